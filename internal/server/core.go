// Package server assembles irpkid: the one place where the store, the CA
// hierarchy, the service, the response signer, the SOAP handler, the
// e-service and the background jobs (CRL publication, reminders, the SMS
// dispatcher, audit pruning) are built and wired together.
//
// Open builds the core that every irpkid command uses (CA, store, CRL
// publisher, service); New builds the whole server on top of it for
// irpkid serve and for the in-process test server (internal/server/irpkidtest).
// New starts no goroutine: Start runs the background jobs, Handler is the
// public HTTP handler, Serve serves it, and Close stops and closes
// everything. When New fails part way, it closes what it opened.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/crl"
	"github.com/irpki/irpki/internal/hsm"
	"github.com/irpki/irpki/internal/metrics"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
)

// CoreConfig says where the core's state lives and how the service
// behaves.
type CoreConfig struct {
	// Environment is the environment served: wire.EnvTest or
	// wire.EnvProduction.
	Environment string
	// DataDir holds the CA (unless CA is given), the SQLite database
	// (unless Database is given), the published CRLs and the mail and SMS
	// outboxes.
	DataDir string
	// Database is what store.Open takes; empty: SQLite in DataDir.
	Database string
	// CA is the hierarchy to use; nil: the one in DataDir, created there
	// with CAOptions if it does not exist yet, its keys opened with
	// CAOptions.Keys (encrypted files, PKCS#11 tokens), whose tokens the
	// core closes.
	CA        *ca.Hierarchy
	CAOptions ca.Options
	// Clock is where time comes from; default the system clock.
	Clock clock.Clock
	// Log receives the server's logs; default discarded.
	Log *slog.Logger
	// Metrics, if not nil, is told what the service and its faces do.
	Metrics *metrics.Metrics
	// Rules, if not nil, adjusts the service's rules.
	Rules func(*service.Config)
}

// Core is what every irpkid command works with: the CA hierarchy, the
// store, the CRL publisher and the service.
type Core struct {
	DB      *store.DB
	CA      *ca.Hierarchy
	Service *service.Service
	CRLs    *crl.Publisher
	Log     *slog.Logger
	Clock   clock.Clock
	Metrics *metrics.Metrics // nil when not measured
	dataDir string
	tokens  *hsm.Tokens // the PKCS#11 tokens of the CA's keys, or nil
}

// StoreName is what store.Open takes for cfg: the Database URL, or the
// SQLite file in the data directory.
func StoreName(cfg CoreConfig) string {
	if cfg.Database != "" {
		return cfg.Database
	}
	return filepath.Join(cfg.DataDir, "irpki.db")
}

// Open loads (or creates) the CA hierarchy, opens the store and builds
// the service, whose revocations publish the CRLs again at once.
func Open(ctx context.Context, cfg CoreConfig) (*Core, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.System{}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var tokens *hsm.Tokens
	if cfg.CAOptions.Keys != nil {
		tokens = cfg.CAOptions.Keys.Tokens
	}
	h := cfg.CA
	if h == nil {
		var created bool
		var err error
		h, created, err = ca.LoadOrCreate(cfg.DataDir, cfg.Environment, clk.Now(), cfg.CAOptions)
		if err != nil {
			tokens.Close()
			return nil, err
		}
		if created {
			log.Info("created CA hierarchy", "environment", cfg.Environment, "dir", filepath.Join(cfg.DataDir, "ca", cfg.Environment), "root", h.Root.Subject.CommonName)
		}
	} else if h.Environment != cfg.Environment {
		return nil, fmt.Errorf("server: the CA given is for %s, not %s", h.Environment, cfg.Environment)
	}
	db, err := store.Open(ctx, StoreName(cfg))
	if err != nil {
		tokens.Close()
		return nil, err
	}
	scfg := service.DefaultConfig(cfg.Environment)
	if cfg.Rules != nil {
		cfg.Rules(&scfg)
	}
	if cfg.Metrics != nil {
		scfg.Observer = cfg.Metrics
	}
	// Every revocation, by serve (the e-service) or an operator command,
	// publishes the revocation lists again at once.
	crls := crl.New(h, db, filepath.Join(cfg.DataDir, "crl"), clk, log)
	scfg.AfterRevoke = crls.PublishLogged
	svc, err := service.New(scfg, h, db, clk, log)
	if err != nil {
		db.Close()
		tokens.Close()
		return nil, err
	}
	return &Core{DB: db, CA: h, Service: svc, CRLs: crls, Log: log, Clock: clk, Metrics: cfg.Metrics, dataDir: cfg.DataDir, tokens: tokens}, nil
}

// Close closes the store and logs out of the CA's PKCS#11 tokens, after
// the signatures under way.
func (c *Core) Close() error {
	return errors.Join(c.DB.Close(), c.tokens.Close())
}
