package app_test

import (
	"encoding/base64"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readmeCurl is one curl example of README.md with the status the README
// says it gets.
type readmeCurl struct {
	method, url, body string
	header            map[string]string
	status            int
}

// TestREADMECurls runs every curl of README.md, as written, against the
// embedded default, and checks each gets the status the README shows.
func TestREADMECurls(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	curls := parseCurls(t, string(data))
	if len(curls) < 5 {
		t.Fatalf("README has %d curl examples; want one per dialect at least", len(curls))
	}
	s := start(t, "", "", nil)
	for i, c := range curls {
		path := strings.TrimPrefix(c.url, "http://127.0.0.1:8080")
		if path == c.url {
			t.Errorf("curl %d does not target the default listener: %s", i, c.url)
			continue
		}
		a := s.do(t, c.method, path, c.header, c.body)
		if a.Status != c.status {
			t.Errorf("curl %d %s %s: status %d, README says %d: %s", i, c.method, path, a.Status, c.status, a.Body)
		}
	}
}

var statusLine = regexp.MustCompile(`^# HTTP/1\.1 (\d{3})`)

func parseCurls(t *testing.T, readme string) []readmeCurl {
	var out []readmeCurl
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "curl ") {
			continue
		}
		cmd := ""
		for ; i < len(lines); i++ {
			l := lines[i]
			if strings.HasSuffix(l, "\\") {
				cmd += strings.TrimSuffix(l, "\\") + " "
				continue
			}
			cmd += l
			break
		}
		c := readmeCurl{method: "GET", header: map[string]string{}}
		words := shellWords(t, cmd)
		for j := 1; j < len(words); j++ {
			switch words[j] {
			case "-i", "-s":
			case "-X":
				j++
				c.method = words[j]
			case "-H":
				j++
				k, v, _ := strings.Cut(words[j], ":")
				c.header[k] = strings.TrimSpace(v)
			case "-d":
				j++
				c.body = words[j]
			case "-u":
				j++
				c.header["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(words[j]))
			default:
				if strings.HasPrefix(words[j], "http") {
					c.url = words[j]
				} else {
					t.Fatalf("README curl uses %q, which this test does not know", words[j])
				}
			}
		}
		for k := i + 1; k < len(lines) && k < i+4; k++ {
			if m := statusLine.FindStringSubmatch(lines[k]); m != nil {
				c.status, _ = strconv.Atoi(m[1])
				break
			}
		}
		if c.status == 0 {
			t.Fatalf("README curl %q shows no '# HTTP/1.1 NNN' answer", cmd)
		}
		out = append(out, c)
	}
	return out
}

// shellWords splits a command line the way sh does for the quoting the
// README uses: single quotes and plain words.
func shellWords(t *testing.T, s string) []string {
	var words []string
	var cur strings.Builder
	in, has := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			in, has = !in, true
		case (r == ' ' || r == '\t') && !in:
			if has {
				words = append(words, cur.String())
				cur.Reset()
				has = false
			}
		default:
			cur.WriteRune(r)
			has = true
		}
	}
	if in {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if has {
		words = append(words, cur.String())
	}
	return words
}
