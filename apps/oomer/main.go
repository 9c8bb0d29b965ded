// Command oomer is the example app that runs out of memory: it allocates
// memory in chunks and touches every page, keeping all of it, until the
// kernel's OOM killer stops it at the container's memory limit (reported by
// Kubernetes as OOMKilled).
//
// -max-mib bounds the total so that a container without a memory limit
// does not take a whole machine down: past it, oomer holds what it has and
// sleeps.
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

const page = 4096

func main() {
	chunkMiB := flag.Int("chunk-mib", 8, "MiB allocated per step")
	maxMiB := flag.Int("max-mib", 4096, "stop allocating (and hold) past this many MiB")
	every := flag.Duration("every", 20*time.Millisecond, "pause between steps")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.LUTC)
	debug.SetGCPercent(-1) // everything is kept anyway: no point collecting

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	var held [][]byte
	total := 0
	log.Printf("oomer: allocating %d MiB every %s (at most %d MiB)", *chunkMiB, *every, *maxMiB)
	for total+*chunkMiB <= *maxMiB {
		b := make([]byte, *chunkMiB<<20)
		for i := 0; i < len(b); i += page {
			b[i] = byte(i) | 1 // touch: make the page resident
		}
		held = append(held, b)
		total += *chunkMiB
		log.Printf("oomer: %d MiB resident", total)
		select {
		case <-ctx.Done():
			return
		case <-time.After(*every):
		}
	}
	log.Printf("oomer: reached -max-mib %d without being killed; holding %d chunks", *maxMiB, len(held))
	<-ctx.Done()
}
