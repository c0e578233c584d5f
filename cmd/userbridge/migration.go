package main

import (
	"fmt"
	"os"

	"github.com/userbridge/userbridge/internal/migrate"
)

const migrationHelp = `Reads the diff log that dialects with a legacy vendor write (migration.log)
and prints, per dialect: the comparisons, the share that matched, every
outcome, and the ten fields that differ most with a request id each. It
exits 0 only when every dialect with records has at least --min-compared
comparisons and at least --min-match of them matched; 1 otherwise (also for
a log with no comparison or with unreadable lines), so that a deploy
pipeline can gate the cutover. In shadow mode a candidate_error counts as
compared and not matched. docs/migration.md walks through it.`

// migrationCmd is `userbridge migration report`.
func migrationCmd(e *env, args []string) error {
	if len(args) == 0 || args[0] != "report" {
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "-help") {
			e.usage(e.stdout, nil)
			return errHelp
		}
		return &usageError{cmd: e.cmd.name, msg: "say report: userbridge migration report --log FILE"}
	}
	fs := e.flags()
	log := fs.String("log", "", "the diff log (migration.log); - for stdin")
	minCompared := fs.Int("min-compared", 1, "the fewest comparisons each dialect needs")
	minMatch := fs.Float64("min-match", 1, "the least share of a dialect's comparisons that must match, 0 to 1")
	if err := e.parse(fs, args[1:]); err != nil {
		return err
	}
	switch {
	case *log == "":
		return &usageError{cmd: e.cmd.name, msg: "--log FILE is required"}
	case *minMatch < 0 || *minMatch > 1:
		return &usageError{cmd: e.cmd.name, msg: fmt.Sprintf("--min-match %g: must be from 0 to 1", *minMatch)}
	case *minCompared < 0:
		return &usageError{cmd: e.cmd.name, msg: fmt.Sprintf("--min-compared %d: must not be negative", *minCompared)}
	}
	in, source := e.stdin, "stdin"
	if *log != "-" {
		source = *log
		f, err := os.Open(*log)
		if err != nil {
			return fmt.Errorf("migration report: %w", err)
		}
		defer f.Close()
		in = f
	}
	rep, err := migrate.Read(in)
	if err != nil {
		return err
	}
	rep.Write(e.stdout)
	fails := migrate.Gate{Source: source, MinCompared: *minCompared, MinMatch: *minMatch}.Failures(rep)
	if len(fails) == 0 {
		fmt.Fprintln(e.stdout, "gate: pass")
		return nil
	}
	for _, f := range fails {
		fmt.Fprintln(e.stdout, "gate: fail: "+f)
	}
	return errQuiet // exit 1: the gate's failures are said above
}
