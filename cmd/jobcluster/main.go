// Command jobcluster runs jobcluster servers and agents and talks to them.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, errorText(err))
		os.Exit(1)
	}
}
