package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one entry of the command table (commands in main.go): what
// the overview and `userbridge NAME --help` say, and what runs it.
type command struct {
	// name is the word after userbridge.
	name string
	// args is the usage after the name, e.g. "[--config F]".
	args string
	// about is one line for the overview and the command's help.
	about string
	// run runs the command. Its error decides the exit status: nil 0,
	// a *usageError 2 (the command was called wrongly), errHelp 0 (help
	// was printed), anything else 1.
	run func(e *env, args []string) error
	// help, optional, is more for `userbridge NAME --help`: paragraphs
	// printed after about.
	help string
}

// env is what a command runs with: its standard streams and its entry.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	cmd            command
}

// errHelp ends a command whose help was asked for and printed: exit 0.
var errHelp = flag.ErrHelp

// errQuiet ends a command with status 1 after it has said why itself (in
// its log, or its output).
var errQuiet = errors.New("userbridge: failed (said above)")

// usageError is a command called wrongly: an unknown flag, a bad flag
// value or an unexpected argument. It exits with status 2. cannotStart
// marks what the command's input makes impossible rather than its call
// (`userbridge test`'s unreadable case file, invalid config): the same
// status, without pointing at the usage.
type usageError struct {
	cmd, msg    string
	cannotStart bool
}

func (e *usageError) Error() string { return e.cmd + ": " + e.msg }

// flags returns a flag set for the command; parse it with e.parse.
func (e *env) flags() *flag.FlagSet {
	fs := flag.NewFlagSet(e.cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // e.parse says what is wrong, once
	fs.Usage = func() {}
	return fs
}

// parse parses args and refuses any argument that is not a flag: every
// command's input is in its flags (or stdin). `--help` prints the usage
// to stdout and returns errHelp.
func (e *env) parse(fs *flag.FlagSet, args []string) error {
	if err := e.parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return nil
	}
	arg := fs.Arg(0)
	msg := fmt.Sprintf("unexpected argument %s", arg)
	if fs.Lookup("config") != nil && !strings.HasPrefix(arg, "-") {
		msg += fmt.Sprintf("; did you mean --config %s?", arg)
	}
	return &usageError{cmd: e.cmd.name, msg: msg}
}

// parseArgs parses args, leaving any positional arguments in fs.Args()
// for a command that takes some.
func (e *env) parseArgs(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		e.usage(e.stdout, fs)
		return errHelp
	default:
		return &usageError{cmd: e.cmd.name, msg: err.Error()}
	}
}

// usage writes the command's usage, with each flag and its default.
func (e *env) usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: userbridge %s %s\n\n%s\n", e.cmd.name, e.cmd.args, e.cmd.about)
	if e.cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", e.cmd.help)
	}
	if fs == nil {
		return
	}
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// overview writes what `userbridge --help` prints: every command.
func overview(w io.Writer) {
	fmt.Fprint(w, "userbridge: a compatibility proxy for user-management APIs\n\nUsage:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  userbridge %s\n      %s\n", strings.TrimSpace(c.name+" "+c.args), c.about)
	}
	fmt.Fprint(w, overviewNotes)
}

// overviewNotes close the overview.
const overviewNotes = `
serve is the default command: "userbridge" alone serves the embedded
default configuration. "userbridge COMMAND --help" shows a command's flags.
serve reloads its configuration on SIGHUP and when --config F or a file it
names changes; tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_TRACES_EXPORTER=otlp) is set.
`

// lookupCommand finds a command of the table by name.
func lookupCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// exitStatus says a command's error where it belongs and turns it into
// the process's exit status.
func (e *env) exitStatus(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue) && ue.cannotStart:
		fmt.Fprintf(e.stderr, "userbridge %s\n", ue.Error())
		return 2
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "userbridge %s\n(userbridge %s --help shows its usage)\n", ue.Error(), e.cmd.name)
		return 2
	case errors.Is(err, errQuiet):
		return 1
	default:
		fmt.Fprintln(e.stderr, "userbridge:", err)
		return 1
	}
}
