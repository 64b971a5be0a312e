package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/strata-cache/strata/edge/config"
	"github.com/strata-cache/strata/edge/config/cloudfront"
)

// runCheckConfig validates distribution files: `strata check-config FILE...`.
// Every problem goes to stderr with its file:line:col; any problem exits 1.
func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: strata check-config FILE...\n\nValidate distribution files (see docs/config.md) and print every problem with its position.")
	}
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: check-config: %v", errUsage, err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("%w: check-config: no file given", errUsage)
	}
	bad := 0
	for _, file := range fs.Args() {
		cfg, err := config.Load(file)
		if err != nil {
			var list *config.ErrorList
			if errors.As(err, &list) {
				for _, e := range list.Errors {
					fmt.Fprintln(stderr, e)
				}
			} else {
				fmt.Fprintln(stderr, err)
			}
			bad++
			continue
		}
		for _, w := range cfg.Warnings {
			fmt.Fprintf(stderr, "%s: warning: %s\n", w.Pos, w.Msg)
		}
		fmt.Fprintf(stdout, "%s: ok (%d origins, %d behaviors and a default)\n", file, len(cfg.Origins), len(cfg.Behaviors))
	}
	if bad > 0 {
		return fmt.Errorf("check-config: %d of %d files have problems", bad, fs.NArg())
	}
	return nil
}

// runConfig runs `strata config SUBCOMMAND`.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const configUsage = "Usage: strata config import-cloudfront [-origin-map domain=url,...] [-cache-policy file.json]... distribution-config.json > strata.yaml\n"
	if len(args) == 0 {
		fmt.Fprint(stderr, configUsage)
		return fmt.Errorf("%w: config: no subcommand given", errUsage)
	}
	switch args[0] {
	case "import-cloudfront":
		return runImportCloudFront(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, configUsage)
		return nil
	}
	fmt.Fprint(stderr, configUsage)
	return fmt.Errorf("%w: config: unknown subcommand %q", errUsage, args[0])
}

// runImportCloudFront prints a distribution file made from a CloudFront
// DistributionConfig; warnings go to stderr.
func runImportCloudFront(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("config import-cloudfront", flag.ContinueOnError)
	originMap := fs.String("origin-map", "", "comma-separated `domain=target` pairs: fetch a CloudFront origin's domain from a URL or local directory instead")
	var policies listFlag
	fs.Var(&policies, "cache-policy", "a custom cache policy, as `aws cloudfront get-cache-policy` prints it (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: strata config import-cloudfront [flags] distribution-config.json > strata.yaml\n\nThe input is what `aws cloudfront get-distribution-config` prints ('-' reads stdin).\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: config import-cloudfront: %v", errUsage, err)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: config import-cloudfront: want one distribution-config.json", errUsage)
	}
	m, err := cloudfront.ParseOriginMap(*originMap)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	opts := cloudfront.ImportOptions{OriginMap: m, CachePolicies: map[string][]byte{}}
	for _, p := range policies {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		opts.CachePolicies[p] = data
	}
	var data []byte
	if name := fs.Arg(0); name == "-" {
		data, err = io.ReadAll(os.Stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return err
	}
	f, warnings, err := cloudfront.Import(data, opts)
	if err != nil {
		return err
	}
	out, err := config.Marshal(f)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "# Imported from %s by strata config import-cloudfront.\n# Check it with: strata check-config FILE\n", fs.Arg(0))
	_, err = stdout.Write(out)
	return err
}
