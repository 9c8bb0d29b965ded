// Command crasher is the example app that never stays up: it starts, logs,
// and exits with status 1 after about a second, so that a real node puts
// its container into CrashLoopBackOff.
package main

import (
	"flag"
	"log"
	"os"
	"time"
)

func main() {
	after := flag.Duration("after", time.Second, "how long to run before failing")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.Printf("crasher: starting; failing in %s", *after)
	time.Sleep(*after)
	log.Printf("crasher: cannot reach the database at db:5432 (simulated); exiting with status 1")
	os.Exit(1)
}
