// Package bench holds what the bench harness's Go parts share: the canned
// canonical upstream (bench/upstream serves it, the Go benchmarks start it
// in-process) and the requests of requests.tsv. bench/run is the harness;
// README.md's "Benchmarks" section says how to run it.
package bench

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tidwall/sjson"
)

// User is the canonical user every upstream call gets back: the demo
// merchant after the bench's Finix update (enabled false, three tags), with
// the fields the other dialects render.
const User = `{"id":"USsRhsHYZGBPnQw8CFHjD7Un","username":"merchant.admin","email":"admin@example.com",` +
	`"givenName":"Merchant","familyName":"Admin","displayName":"Merchant Admin","phone":"+1 415 555 0100",` +
	`"active":false,"locked":false,"roles":[{"id":"7c9e6679-7425-40de-944b-e07fc1f90ae7","name":"ROLE_MERCHANT"}],` +
	`"attributes":{"order_number":"25","item_type":"produce","department":"sales"},` +
	`"createdAt":"2024-01-15T09:31:00.000Z","updatedAt":"2024-03-01T10:00:00.000Z",` +
	`"createdBy":"system","lastLoginAt":"2024-03-01T08:15:42.000Z"}`

var jsonType = []string{"application/json"}

// answer is a pre-rendered reply body and its Content-Length.
type answer struct {
	body   []byte
	length []string
}

// answers holds the reply of each user path asked for so far (a bench asks
// for a handful), rendered once: User as the user addressed.
var (
	answers    sync.Map // path → *answer
	answersLen atomic.Int32
)

const maxAnswers = 256 // past this, a reply is rendered for its request alone

// answerFor is User as the user path names it: /users/{id} gets User with
// that id, /users/by-username/{username} User with that username. userbridge
// refuses an answer for another user than the one it addressed, so the
// canned user must be the one asked for.
func answerFor(path string) *answer {
	if a, ok := answers.Load(path); ok {
		return a.(*answer)
	}
	u := User
	if name, ok := strings.CutPrefix(path, "/users/by-username/"); ok {
		u, _ = sjson.Set(u, "username", name)
	} else {
		u, _ = sjson.Set(u, "id", strings.TrimPrefix(path, "/users/"))
	}
	a := &answer{body: []byte(u), length: []string{strconv.Itoa(len(u))}}
	if answersLen.Load() < maxAnswers {
		if prev, loaded := answers.LoadOrStore(path, a); loaded {
			return prev.(*answer)
		}
		answersLen.Add(1)
	}
	return a
}

// Upstream answers every /users/... call, whatever its method, with 200 and
// User as the user the path addresses (answerFor), pre-rendered. It reads
// the request body to its end so the connection stays reusable. Any other
// path is a 404, so a misrouted hop shows up as errors rather than as
// speed.
func Upstream(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if !strings.HasPrefix(r.URL.Path, "/users/") {
		http.NotFound(w, r)
		return
	}
	a := answerFor(r.URL.Path)
	h := w.Header()
	h["Content-Type"] = jsonType
	h["Content-Length"] = a.length
	_, _ = w.Write(a.body)
}

// Request is one line of requests.tsv: a request as a real client of a
// dialect sends it (or, for "canonical", the Finix update as userbridge
// sends it upstream), and the status it must get.
type Request struct {
	Name   string
	Method string
	Path   string
	Status int
	Header http.Header
	Body   string
}

// ReadRequests parses requests.tsv: tab-separated name, method, path,
// status, headers ("Name: value" joined by "|") and body; "#" starts a
// comment line.
func ReadRequests(path string) ([]Request, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	var out []Request
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		col := strings.Split(line, "\t")
		if len(col) != 6 {
			return nil, fmt.Errorf("bench: %s:%d: %d columns, want 6", path, n, len(col))
		}
		status, err := strconv.Atoi(col[3])
		if err != nil {
			return nil, fmt.Errorf("bench: %s:%d: status: %w", path, n, err)
		}
		r := Request{Name: col[0], Method: col[1], Path: col[2], Status: status, Header: http.Header{}, Body: col[5]}
		for _, kv := range strings.Split(col[4], "|") {
			name, value, ok := strings.Cut(kv, ":")
			if !ok {
				return nil, fmt.Errorf("bench: %s:%d: header %q has no colon", path, n, kv)
			}
			r.Header.Add(strings.TrimSpace(name), strings.TrimSpace(value))
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("bench: %s: %w", path, err)
	}
	return out, nil
}
