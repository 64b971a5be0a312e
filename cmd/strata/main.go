// Command strata runs Strata: the whole multi-tier cache in one process
// (serve), an edge node alone (edge), or talks to a running one (invalidate,
// purge).
//
// Run `strata help` for the subcommands and `strata SUBCOMMAND -h` for flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// errUsage marks errors in how strata was invoked; they exit with status 2.
var errUsage = errors.New("usage")

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "strata:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "strata:", err)
		return 1
	}
}

const usage = `strata: a self-hostable multi-tier content cache

Usage:
  strata serve       run the edge, static site, catalog API and admin API in one process
  strata edge        run an edge node in front of one origin
  strata api         run a scale-out catalog API instance on a shared database and Redis
  strata invalidate  invalidate URLs, paths, surrogate keys or everything on a running Strata
  strata purge       the same, and wait until every live edge node has applied it
  strata sign-url    sign a URL or cookies for the edge's signed-URL check, or make a key pair
  strata bench       load the catalog through the edge, update prices, and count stale reads
  strata check-config   validate distribution files and print every problem
  strata config import-cloudfront   turn a CloudFront distribution config into a distribution file
  strata version     print the version

Run 'strata COMMAND -h' for a command's flags.
`

// run is strata's whole logic, minus process concerns, so tests can call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: no command given", errUsage)
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "api":
		return runAPI(ctx, rest, stdout, stderr)
	case "edge":
		return runEdge(ctx, rest, stdout, stderr)
	case "invalidate":
		return runInvalidate(ctx, rest, stdout, stderr)
	case "purge":
		return runPurge(ctx, rest, stdout, stderr)
	case "sign-url":
		return runSignURL(ctx, rest, stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "check-config":
		return runCheckConfig(ctx, rest, stdout, stderr)
	case "config":
		return runConfig(ctx, rest, stdout, stderr)
	case "version", "-version", "--version":
		return runVersion(stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
}

// parseFlags parses args into fs, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %s: %v", errUsage, fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: %s: unexpected arguments %q", errUsage, fs.Name(), fs.Args())
	}
	return nil
}

// envOr returns the environment variable name's value, or def.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
