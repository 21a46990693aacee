// Command hookline runs the Hookline gateway: the API, the delivery worker,
// or both, and the operator's admin commands.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hookline/hookline/app/accounts"
	"github.com/hookline/hookline/app/apperr"
	"github.com/hookline/hookline/app/config"
	"github.com/hookline/hookline/app/secrets"
	"github.com/hookline/hookline/app/store"
	"github.com/hookline/hookline/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: hookline <command> [flags]

commands:
  serve                 run the API and the delivery worker in one process
  api                   run the API only
  worker                run the delivery worker only
  admin create-account  --name NAME --email EMAIL   (password from HOOKLINE_ADMIN_PASSWORD)
  admin create-key      --account ID --name NAME --permissions p1,p2
  admin check-key       --key KEY   (exit 0 when the key authenticates)
  admin new-secret-key  [--id ID]   print a new operator key for HOOKLINE_SECRET_KEYS
  admin rotate-secrets  re-encrypt every stored secret under the first key of HOOKLINE_SECRET_KEYS
  version

configuration comes from HOOKLINE_* environment variables (see README.md).
`

// Version is set at build time with -ldflags "-X main.Version=…".
var Version = "dev"

// run is the whole program; ctx is cancelled on SIGINT/SIGTERM.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if len(args) >= 2 && args[0] == "admin" && args[1] == "new-secret-key" {
		// Needs no configuration: it is how the first key is made.
		id := "k" + time.Now().UTC().Format("20060102")
		if len(args) == 4 && args[2] == "--id" {
			id = args[3]
		}
		line := secrets.NewKey(id)
		if _, err := secrets.Parse(line); err != nil {
			fmt.Fprintf(stderr, "hookline: %v\n", err)
			return 2
		}
		fmt.Fprintln(stdout, line)
		return 0
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "hookline: bad configuration:\n%v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	switch args[0] {
	case "serve", "api", "worker":
		return runServer(ctx, args[0], cfg, log, stdout, stderr)
	case "admin":
		return runAdmin(ctx, args[1:], cfg, getenv, log, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "hookline: unknown command %q\n%s", args[0], usage)
	return 2
}

func connect(ctx context.Context, cfg config.Config, log *slog.Logger, stderr io.Writer) (redis.UniversalClient, bool) {
	rdb, err := store.Open(cfg.RedisURL)
	if err != nil {
		fmt.Fprintf(stderr, "hookline: HOOKLINE_REDIS_URL: %v\n", err)
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	info, err := store.Inspect(ctx, rdb)
	if err != nil {
		fmt.Fprintf(stderr, "hookline: cannot reach Redis at %s: %v\n", config.MaskURL(cfg.RedisURL), err)
		_ = rdb.Close()
		return nil, false
	}
	if cfg.Mode == config.Production {
		switch info.MaxmemoryPolicy {
		case "noeviction":
		case "":
			log.Warn("cannot read Redis maxmemory-policy; it must be noeviction or queued deliveries can be lost")
		default:
			fmt.Fprintf(stderr, "hookline: Redis maxmemory-policy is %q; production needs noeviction "+
				"(CONFIG SET maxmemory-policy noeviction), or Redis may evict queued deliveries and records\n", info.MaxmemoryPolicy)
			_ = rdb.Close()
			return nil, false
		}
		if !info.AppendOnly {
			log.Warn("Redis AOF is off (appendonly no): a Redis restart can lose recent records and deliveries")
		}
	}
	return rdb, true
}

func runServer(ctx context.Context, role string, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	rdb, ok := connect(ctx, cfg, log, stderr)
	if !ok {
		return 1
	}
	defer rdb.Close()
	srv := server.New(cfg, rdb, log, server.Options{Version: Version})
	log.Info("starting", "role", role, "version", Version, "config", cfg.String())

	errc := make(chan error, 3)
	var stops []func()
	switch {
	case cfg.MetricsAddr != "":
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "hookline: listen on HOOKLINE_METRICS_ADDR %s: %v\n", cfg.MetricsAddr, err)
			return 1
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", srv.MetricsHandler())
		ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		log.Info("metrics listening", "addr", mln.Addr().String())
		go func() {
			if err := ms.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
		stops = append(stops, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = ms.Shutdown(sctx)
		})
	case cfg.MetricsToken == "" && cfg.Mode == config.Production:
		log.Warn("metrics are not served: set HOOKLINE_METRICS_ADDR (a listener of their own) or HOOKLINE_METRICS_TOKEN (/metrics behind a bearer token)")
	}
	if role == "serve" || role == "worker" {
		w := srv.Worker()
		if err := w.Start(); err != nil {
			fmt.Fprintf(stderr, "hookline: start worker: %v\n", err)
			return 1
		}
		stops = append(stops, w.Stop)
	}
	if role == "serve" || role == "api" {
		ln, err := net.Listen("tcp", cfg.Addr)
		if err != nil {
			fmt.Fprintf(stderr, "hookline: listen on %s: %v\n", cfg.Addr, err)
			for _, s := range stops {
				s()
			}
			return 1
		}
		app := srv.HTTP()
		log.Info("listening", "addr", ln.Addr().String(), "base_url", cfg.BaseURL.String())
		go func() { errc <- app.Listener(ln) }()
		// The API stops first, so no new work arrives while the worker drains.
		stops = append([]func(){func() {
			if err := app.ShutdownWithTimeout(20 * time.Second); err != nil {
				log.Warn("http shutdown", "err", err)
			}
		}}, stops...)
	}

	code := 0
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests and tasks")
	case err := <-errc:
		if err != nil {
			log.Error("http server stopped", "err", err)
			code = 1
		}
	}
	for _, s := range stops {
		s()
	}
	// Background sends started by requests (Zapier's reverse unsubscribe)
	// finish before the process exits.
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := srv.Close(closeCtx); err != nil {
		log.Warn("shutdown: background sends", "err", err)
	}
	log.Info("stopped")
	return code
}

func runAdmin(ctx context.Context, args []string, cfg config.Config, getenv func(string) string, log *slog.Logger, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("hookline admin "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	var name, email, password, account, permissions, key string
	switch args[0] {
	case "create-account":
		fs.StringVar(&name, "name", "", "account name")
		fs.StringVar(&email, "email", "", "owner's login email")
		fs.StringVar(&password, "password", "", "owner's password; avoid: visible in ps and shell history (use HOOKLINE_ADMIN_PASSWORD)")
	case "create-key":
		fs.StringVar(&account, "account", "", "account id (acc_…)")
		fs.StringVar(&name, "name", "", "key name")
		fs.StringVar(&permissions, "permissions", "", "comma-separated permissions")
	case "check-key":
		fs.StringVar(&key, "key", "", "API key")
	case "rotate-secrets":
	default:
		fmt.Fprintf(stderr, "hookline: unknown admin command %q\n%s", args[0], usage)
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hookline: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	if args[0] == "create-account" {
		// A password on the command line is visible to every user of the
		// machine (ps) and stays in shell history: the environment is the
		// way; the flag stays, with a warning, for old scripts.
		if password != "" {
			fmt.Fprintln(stderr, "hookline: warning: --password is visible to other users (ps, shell history); set HOOKLINE_ADMIN_PASSWORD instead")
		} else {
			password = getenv("HOOKLINE_ADMIN_PASSWORD")
		}
	}
	rdb, ok := connect(ctx, cfg, log, stderr)
	if !ok {
		return 1
	}
	defer rdb.Close()
	srv := server.New(cfg, rdb, log, server.Options{Version: Version})

	var out any
	var err error
	switch args[0] {
	case "create-account":
		var c accounts.Created
		c, err = srv.Accounts.CreateAccount(ctx, accounts.NewAccount{Name: name, Email: email, Password: password})
		out = map[string]string{"account_id": c.Account.ID, "user_id": c.Owner.ID, "api_key": c.RawKey}
	case "create-key":
		var perms []string
		for _, p := range strings.Split(permissions, ",") {
			if p = strings.TrimSpace(p); p != "" {
				perms = append(perms, p)
			}
		}
		var k accounts.APIKey
		var raw string
		k, raw, err = srv.Accounts.AdminCreateKey(ctx, account, accounts.NewKey{Name: name, Permissions: perms})
		out = map[string]string{"key_id": k.ID, "api_key": raw}
	case "check-key":
		p, aerr := srv.Accounts.Authenticate(ctx, key)
		err = aerr
		out = map[string]any{"account_id": p.AccountID, "key_id": p.Credential.ID}
	case "rotate-secrets":
		if !cfg.Secrets.Enabled() {
			fmt.Fprintln(stderr, "hookline: HOOKLINE_SECRET_KEYS is not set: there is no key to encrypt under")
			return 2
		}
		// Webhooks' then endpoints' secrets: each value still readable under
		// any configured key is sealed again under the first one.
		var nw, ne int
		if nw, err = srv.Outbound.RotateSecrets(ctx); err == nil {
			ne, err = srv.Endpoints.RotateSecrets(ctx)
		}
		out = map[string]any{"key_id": cfg.Secrets.CurrentID(), "webhook_values": nw, "endpoint_values": ne}
	}
	if err != nil {
		return adminError(err, stderr)
	}
	_ = json.NewEncoder(stdout).Encode(out)
	return 0
}

// adminError prints a client-facing error on stderr: bad input exits 2,
// anything else 1.
func adminError(err error, stderr io.Writer) int {
	ae := apperr.As(err)
	if ae == nil {
		fmt.Fprintf(stderr, "hookline: %v\n", err)
		return 1
	}
	if len(ae.Fields) > 0 {
		for _, f := range ae.Fields {
			fmt.Fprintf(stderr, "hookline: --%s: %s\n", strings.ReplaceAll(f.Field, "_", "-"), f.Message)
		}
	} else {
		fmt.Fprintf(stderr, "hookline: %s\n", ae.Message)
	}
	if errors.Is(err, context.Canceled) {
		return 1
	}
	return 2
}
