package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// releaseBuild is a documented release build: its go build flags, and
// the package variables it stamps with -X, in order.
type releaseBuild struct {
	flags  []string // -trimpath, -s, -w, CGO_ENABLED=0: what decides the binary besides the stamps
	stamps []string // github.com/…/telemetry.version, …
}

var stampRE = regexp.MustCompile(`-X\s+([^\s=]+)=`)

// parseReleaseBuild reads the `CGO_ENABLED=0 go build … ./cmd/userbridge`
// command in text (continuation lines joined).
func parseReleaseBuild(t *testing.T, name, text string) releaseBuild {
	t.Helper()
	text = strings.ReplaceAll(text, "\\\n", " ")
	start := strings.Index(text, "CGO_ENABLED=0 go build")
	if start < 0 {
		t.Fatalf("%s: no `CGO_ENABLED=0 go build` command", name)
	}
	end := strings.Index(text[start:], "./cmd/userbridge")
	if end < 0 {
		t.Fatalf("%s: the go build command does not build ./cmd/userbridge", name)
	}
	cmd := text[start : start+end]
	var b releaseBuild
	for _, m := range stampRE.FindAllStringSubmatch(cmd, -1) {
		b.stamps = append(b.stamps, m[1])
	}
	for _, f := range strings.Fields(stampRE.ReplaceAllString(cmd, "")) {
		switch strings.Trim(f, `"`) {
		case "CGO_ENABLED=0", "-trimpath", "-s", "-w":
			b.flags = append(b.flags, strings.Trim(f, `"`))
		}
	}
	sort.Strings(b.flags)
	return b
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReleaseBuild builds the binary as the README documents, stamping
// each variable it names with a known value: `userbridge version` says the
// version, the commit and the date. The Dockerfile's build is the same
// command with the same flags and stamps.
func TestReleaseBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	readme := parseReleaseBuild(t, "README.md", readFile(t, "../../README.md"))
	docker := parseReleaseBuild(t, "Dockerfile", readFile(t, "../../Dockerfile"))
	if strings.Join(readme.flags, " ") != "-s -trimpath -w CGO_ENABLED=0" {
		t.Errorf("README's release build flags: %v", readme.flags)
	}
	if strings.Join(docker.flags, " ") != strings.Join(readme.flags, " ") || strings.Join(docker.stamps, " ") != strings.Join(readme.stamps, " ") {
		t.Errorf("the Dockerfile builds another binary than the README:\nDockerfile %+v\nREADME     %+v", docker, readme)
	}
	values := map[string]string{"version": "v9.8.7-rc.1", "commit": "0123456789abcdef0123456789abcdef01234567", "date": "2026-01-02T03:04:05Z"}
	var ldflags []string
	for _, s := range readme.stamps {
		v, ok := values[s[strings.LastIndex(s, ".")+1:]]
		if !ok || !strings.HasSuffix(s[:strings.LastIndex(s, ".")], "/internal/telemetry") {
			t.Fatalf("README stamps %s: not a variable userbridge version reads", s)
		}
		ldflags = append(ldflags, "-X", s+"="+v)
	}
	if len(ldflags) != 6 {
		t.Fatalf("README stamps %v, want version, commit and date", readme.stamps)
	}
	bin := filepath.Join(t.TempDir(), "userbridge")
	// -ldflags alone: the packages compiled for the tests are reused.
	build := exec.Command("go", "build", "-ldflags", "-s -w "+strings.Join(ldflags, " "), "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "userbridge v9.8.7-rc.1\ncommit 0123456789abcdef0123456789abcdef01234567\ndate 2026-01-02T03:04:05Z\n"
	if !strings.HasPrefix(string(out), want) || !strings.Contains(string(out), "go1.") {
		t.Errorf("version of a stamped build:\n%s\nwant it to begin\n%s", out, want)
	}
	// The built binary's exit status for a stray argument, as a shell sees it.
	cmd := exec.Command(bin, "validate", "cfg.yaml")
	stderr, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(stderr), "did you mean --config cfg.yaml?") {
		t.Errorf("validate cfg.yaml: exit %d, %s", cmd.ProcessState.ExitCode(), stderr)
	}
}

// TestReleaseFiles: what a team shipping userbridge needs is there.
func TestReleaseFiles(t *testing.T) {
	license := readFile(t, "../../LICENSE")
	for _, want := range []string{"Apache License", "Version 2.0, January 2004", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "END OF TERMS AND CONDITIONS"} {
		if !strings.Contains(license, want) {
			t.Errorf("LICENSE lacks %q", want)
		}
	}
	changelog := readFile(t, "../../CHANGELOG.md")
	if !strings.Contains(changelog, "## [Unreleased]") || !strings.Contains(changelog, "keepachangelog.com") {
		t.Error("CHANGELOG.md has no Unreleased section in the Keep a Changelog form")
	}
	ignore := readFile(t, "../../.dockerignore")
	for _, want := range []string{".git", "**/*_test.go"} {
		if !strings.Contains(ignore, want+"\n") {
			t.Errorf(".dockerignore does not leave out %s", want)
		}
	}
	// Every base image fully qualified: registry, repository and tag.
	froms := regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(readFile(t, "../../Dockerfile"), -1)
	if len(froms) < 2 {
		t.Fatalf("Dockerfile FROM lines: %v", froms)
	}
	for _, m := range froms {
		img := m[1]
		host, _, _ := strings.Cut(img, "/")
		if !strings.Contains(host, ".") || !strings.Contains(img[strings.LastIndex(img, "/"):], ":") {
			t.Errorf("base image %s is not fully qualified (registry/repository:tag)", img)
		}
	}
}
