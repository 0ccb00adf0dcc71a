// Command batch-job behaves as the luksa/batch-job image of "Kubernetes in
// Action": it prints the date and "Batch job starting", sleeps 120 seconds,
// then prints the date and "Finished succesfully" (sic, as the book's image).
//
// BATCH_JOB_SLEEP, a Go duration such as "2s", shortens the sleep for tests;
// so does building with -ldflags "-X main.defaultSleep=2s", for an image
// that runs the book's manifest verbatim.
package main

import (
	"fmt"
	"os"
	"time"
)

// dateLayout is the output of date(1) in the C locale.
const dateLayout = "Mon Jan _2 15:04:05 MST 2006"

// defaultSleep is the sleep without BATCH_JOB_SLEEP.
var defaultSleep = "120s"

func main() {
	s := defaultSleep
	if env := os.Getenv("BATCH_JOB_SLEEP"); env != "" {
		s = env
	}
	sleep, err := time.ParseDuration(s)
	if err != nil {
		fmt.Fprintf(os.Stderr, "batch-job: BATCH_JOB_SLEEP: %v\n", err)
		os.Exit(2)
	}
	fmt.Println(time.Now().UTC().Format(dateLayout))
	fmt.Println("Batch job starting")
	time.Sleep(sleep)
	fmt.Println(time.Now().UTC().Format(dateLayout))
	fmt.Println("Finished succesfully")
}
