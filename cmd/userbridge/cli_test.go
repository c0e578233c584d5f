package main

import (
	"slices"
	"strings"
	"testing"
)

// TestPositionalArgumentsRefused: a file name given without --config is
// refused (exit 2, naming --config) rather than silently ignored for the
// embedded default; so is any stray argument of every command.
func TestPositionalArgumentsRefused(t *testing.T) {
	for _, cmd := range []string{"serve", "validate", "routes"} {
		code, out, errs := runCmd("", cmd, "x.yaml")
		if code != 2 || out != "" || !strings.Contains(errs, "unexpected argument x.yaml; did you mean --config x.yaml?") {
			t.Errorf("%s x.yaml: exit %d, %q %q", cmd, code, out, errs)
		}
	}
	// After flags too: flag parsing stops at the first argument.
	if code, _, errs := runCmd("", "validate", "--upstream-timeout", "3s", "cfg.yaml"); code != 2 || !strings.Contains(errs, "--config cfg.yaml") {
		t.Errorf("validate --upstream-timeout 3s cfg.yaml: exit %d, %q", code, errs)
	}
	for _, args := range [][]string{{"dialects", "extra"}, {"version", "extra"}, {"health", "extra"}, {"backend", "extra"}, {"translate", "--dialect", "finix", "extra"}} {
		code, _, errs := runCmd("{}", args...)
		if code != 2 || !strings.Contains(errs, "unexpected argument extra") || strings.Contains(errs, "--config") {
			t.Errorf("%v: exit %d, %q", args, code, errs)
		}
	}
}

// TestHelp: help is asked for, not an error: the overview or the command's
// usage with its flags and their defaults, on stdout, exit 0.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		code, out, errs := runCmd("", args...)
		if code != 0 || errs != "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
		for _, c := range commands() {
			if !strings.Contains(out, "userbridge "+c.name) || !strings.Contains(out, c.about) {
				t.Errorf("%v: the overview lacks %s:\n%s", args, c.name, out)
			}
		}
	}
	for _, c := range commands() {
		for _, h := range []string{"--help", "-h"} {
			code, out, errs := runCmd("", c.name, h)
			if code != 0 || errs != "" || !strings.HasPrefix(out, "Usage: userbridge "+c.name) {
				t.Errorf("%s %s: exit %d, %q %q", c.name, h, code, out, errs)
			}
		}
	}
	// Each flag's line names its type, as the flag package prints it: a
	// back-quoted word in a flag's usage would be printed as its type.
	for _, c := range append(commands(), command{name: "migration report"}) {
		_, out, _ := runCmd("", append(strings.Fields(c.name), "--help")...)
		for _, l := range strings.Split(out, "\n") {
			if f := strings.Fields(l); strings.HasPrefix(l, "  -") && len(f) > 1 && !slices.Contains([]string{"string", "duration", "int", "float", "uint", "value"}, f[1]) {
				t.Errorf("%s --help: %q: %q is no flag type", c.name, l, f[1])
			}
		}
	}
	_, out, _ := runCmd("", "health", "--help")
	if !strings.Contains(out, "-timeout duration") || !strings.Contains(out, "(default 2s)") {
		t.Errorf("health --help without its flags and defaults:\n%s", out)
	}
	_, out, _ = runCmd("", "serve", "--help")
	if !strings.Contains(out, "-config string") || !strings.Contains(out, "-upstream-profile") {
		t.Errorf("serve --help without its flags:\n%s", out)
	}
	// A flag that does not exist is a usage error, said on stderr.
	if code, out, errs := runCmd("", "routes", "--nope"); code != 2 || out != "" || !strings.Contains(errs, "-nope") || !strings.Contains(errs, "userbridge routes --help") {
		t.Errorf("routes --nope: exit %d, %q %q", code, out, errs)
	}
	// An unknown command: the overview, on stderr, exit 2.
	if code, out, errs := runCmd("", "frobnicate"); code != 2 || out != "" || !strings.Contains(errs, `unknown command "frobnicate"`) || !strings.Contains(errs, "userbridge validate") {
		t.Errorf("frobnicate: exit %d, %q %q", code, out, errs)
	}
}
