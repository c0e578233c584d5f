// Command upstream is the bench's canonical upstream: every /users/... call
// gets 200 and the canonical user bench.User as the user addressed, pre-rendered, over
// keep-alive, so that a run measures the hop in front of it.
//
//	go run ./bench/upstream --listen 127.0.0.1:18091
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"

	"github.com/userbridge/userbridge/bench"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:18091", "loopback address to listen on")
	flag.Parse()
	if err := bench.ServeLoopback(*listen, http.HandlerFunc(bench.Upstream)); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}
