// Command jobcluster runs jobcluster servers and agents and talks to them.
package main

import (
	"fmt"
	"os"
	// CronJobs name IANA time zones; the binary carries the zone data so
	// they work on hosts without /usr/share/zoneinfo.
	_ "time/tzdata"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, errorText(err))
		os.Exit(1)
	}
}
