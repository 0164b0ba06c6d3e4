package main

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/irpki/irpki/internal/membudget"
)

// irpkid serve's garbage collector works to a fixed memory budget
// (--memory-budget), not to a multiple of the live heap: GOGC is off and
// the Go memory limit is the budget, so the heap fills the budget with
// garbage before a collection at any load. Resident memory is then about
// the budget plus the program's own pages (the executable, SQLite's cache)
// whether one client is served or 128, and an overload (the admission
// queue full, the excess answered 503) cannot grow it.
//
// Before, the heap was let grow to five times what was live (GOGC=400):
// the live heap is a few MiB and grows with the connections and requests
// in flight, and the collector's goal grew five times as much, so resident
// memory rose by half from 1 to 128 clients (docs/benchmark.md). Go's
// default (GOGC=100) collected every few requests and cost several per cent
// of the CPU in collections and in preempting the goroutines that sign.
//
// The budget must hold what serving keeps live (the heap and goroutine
// stacks, which grow with the connections and requests in flight, bounded
// by the admission queue) with room to spare for garbage: the smaller the
// room, the more often the collector runs. The memory limit is soft: were
// more live than the budget, the collector would take up to half the CPU
// and then let the heap grow past it, never fail an allocation.
//
// An e-service password check (argon2id) holds 64 MiB for a moment: it
// takes a reservation (eservice.Config.ReserveMemory, membudget) that
// raises the limit by that much while it runs, so that the collector does
// not run again and again against the budget meanwhile.
//
// What serving keeps live grows with the requests admitted at once (being
// served, or waiting in the admission queue), whose bounds grow with the
// CPUs (--max-inflight-requests, --max-queued-requests: 4 and 64 per CPU),
// so the default budget (--memory-budget auto) grows with them too.
const (
	// autoBudgetBase and autoBudgetPerRequest make the default budget:
	// the base, and for each SOAP request the admission bounds let in at
	// once about twice what it keeps live. Measured on two CPUs (136
	// requests admitted at once), renewal cycles at 1 to 256 clients (the
	// admission queue full and the excess answered 503): serving keeps at
	// most 7.5 MiB of heap live and 6 MiB of goroutine stacks, about
	// 85 KiB per request admitted above the 2.3 MiB of an idle server,
	// and a few MiB of the runtime's own. The budget this makes there,
	// 48 MiB: the collector's marking took 0.4-0.7 % of the server's CPU
	// at 1 and 16 clients (GOGC=400: 0.7-0.9 %) and 1.0-1.2 % at 128
	// (GOGC=400: 0.8-1.0 %; a 64 MiB budget: 0.65 %), for resident memory
	// of 72-75 MiB at every step. docs/benchmark.md has the figures.
	autoBudgetBase       = 24 << 20
	autoBudgetPerRequest = 180 << 10
	// minMemoryBudget: about twice what serving keeps at most with two
	// CPUs' default admission bounds (about 18 MiB at 256 clients, above);
	// below it the collector would run almost without pause under load.
	minMemoryBudget = 32 << 20
)

// autoMemoryBudget is the default budget (--memory-budget auto) when
// inFlight requests are served at once and queued more may wait: base and
// autoBudgetPerRequest each, rounded up to a MiB, at least minMemoryBudget.
func autoMemoryBudget(inFlight, queued int) int64 {
	requests := int64(max(inFlight, 0)) + int64(max(queued, 0))
	if requests > (math.MaxInt64-autoBudgetBase)/autoBudgetPerRequest-1 {
		return math.MaxInt64 &^ (1<<20 - 1)
	}
	n := autoBudgetBase + requests*autoBudgetPerRequest
	return max((n+1<<20-1)&^(1<<20-1), minMemoryBudget)
}

// parseMemoryBudget reads --memory-budget: auto (autoMemoryBudget of the
// admission bounds), 0 (Go's own settings), or a size of at least
// minMemoryBudget. how says, for the log, how auto chose the budget (""
// for a size given).
func parseMemoryBudget(v string, inFlight, queued int) (n int64, how string, err error) {
	if v == "auto" {
		return autoMemoryBudget(inFlight, queued), fmt.Sprintf(" (auto: %d SOAP requests admitted at once)", inFlight+queued), nil
	}
	n, err = membudget.ParseSize(v)
	if err != nil {
		return 0, "", fmt.Errorf("--memory-budget: %v, or auto", err)
	}
	if n != 0 && n < minMemoryBudget {
		unitless := ""
		if strings.Trim(v, "0123456789") == "" {
			unitless = " (a number without a unit is bytes: write e.g. 64MiB)"
		}
		return 0, "", fmt.Errorf("--memory-budget %s: at least %s, or auto, or 0 for Go's own collector settings: serving keeps up to about 18 MiB (heap, stacks, runtime) under load on two CPUs, and the collector needs room beside it for garbage%s",
			v, membudget.FormatSize(minMemoryBudget), unitless)
	}
	return n, "", nil
}

// tuneGC sets the collector to work to budget bytes (0: leave Go's
// defaults; auto says how it was chosen, for the log), except where the GOGC and GOMEMLIMIT environment variables
// (read with lookupEnv) set it: GOGC keeps its proportional collector (the
// budget is then a ceiling beside it); GOMEMLIMIT replaces the budget, and
// nothing is reserved. GOMEMLIMIT=off (no limit) also leaves GOGC on, for
// with GOGC off and no limit nothing would ever be collected; an empty
// variable is unset, as the Go runtime reads it. It logs what it chose, and
// returns the Budget that reservations raise, nil when the limit is not
// irpkid's to move.
func tuneGC(budget int64, auto string, lookupEnv func(string) (string, bool), log *slog.Logger) *membudget.Budget {
	gogc, envGOGC := lookupEnv("GOGC")
	limit, envLimit := lookupEnv("GOMEMLIMIT")
	envGOGC, envLimit = envGOGC && gogc != "", envLimit && limit != ""
	noLimit := envLimit && limit == "off"
	gcDesc, limitDesc := "100 (Go's default)", "none (Go's default)"
	if envGOGC {
		gcDesc = gogc + " (from the environment)"
	}
	if envLimit {
		limitDesc = limit + " (from the environment)"
	}
	var b *membudget.Budget
	if budget > 0 {
		if !envGOGC && !noLimit {
			debug.SetGCPercent(-1)
			gcDesc = "off"
		}
		if !envLimit {
			b = membudget.New(budget)
			b.Apply()
			limitDesc = membudget.FormatSize(budget) + " and the reservations of password checks"
		}
	}
	budgetDesc := "none (--memory-budget 0)"
	switch {
	case b != nil:
		budgetDesc = membudget.FormatSize(budget) + auto
	case budget > 0:
		budgetDesc = "none (GOMEMLIMIT is set)"
	}
	log.Info("garbage collector", "memory_budget", budgetDesc, "GOGC", gcDesc, "GOMEMLIMIT", limitDesc)
	return b
}

// settleMemory collects and gives back to the system what start-up left
// behind (the e-service's password hash that times unknown accounts like
// known ones holds 64 MiB), so that serving starts from the heap it keeps.
func settleMemory() { debug.FreeOSMemory() }

// memoryMetrics are the gauges of the memory budget b (nil: none, both 0).
// Go's collector metrics show the limit in force (go_gc_gomemlimit_bytes:
// the budget and the reservations) and what the collector costs
// (go_cpu_classes_gc_total_cpu_seconds_total).
func memoryMetrics(b *membudget.Budget) []prometheus.Collector {
	var size float64
	if b != nil {
		size = float64(b.Size())
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_memory_budget_bytes",
			Help: "The memory budget the garbage collector works to (--memory-budget), without reservations; 0 when there is none (--memory-budget 0, or GOMEMLIMIT set)."},
			func() float64 { return size }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "irpkid_memory_reserved_bytes",
			Help: "Memory reserved above the budget by the password checks running (64 MiB each by default); the Go memory limit is the budget plus this."},
			func() float64 {
				if b == nil {
					return 0
				}
				return float64(b.Reserved())
			}),
	}
}
