// Package api serves ipvsd's HTTP API: the state of every virtual and
// real server, the pending plan, admin states of real servers, changes
// to virtual servers that survive a restart, a reload, the liveness
// probe and the metrics. Bodies are JSON; a virtual server is given in
// the configuration file's schema, as YAML or JSON.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ipvs-go/ipvs"
	"github.com/ipvs-go/ipvs/ipvsd/config"
	"github.com/ipvs-go/ipvs/ipvsd/director"
)

// Options configure the API's handler.
type Options struct {
	// Director is the director served.
	Director *director.Director
	// Table reads the table, for the real servers' weights and
	// connections as the kernel holds them; nil leaves them out.
	Table func(ctx context.Context) ([]ipvs.VirtualServer, error)
	// Destinations reads one service's destinations, for the status of
	// one virtual server, which then costs no read of the whole table;
	// nil reads the whole table with Table.
	Destinations func(ctx context.Context, svc ipvs.Service) ([]ipvs.Destination, error)
	// Reload reloads the configuration file, as SIGHUP does; nil answers
	// 501.
	Reload func() error
	// Metrics serves /metrics; nil answers 404.
	Metrics http.Handler
	// Logger logs the changes made and refused; nil discards.
	Logger *slog.Logger
	// Now is the clock of the liveness probe; nil is time.Now.
	Now func() time.Time
	// Fleet returns the state of the director's fleet source (etcd),
	// served in the status and at /api/v1/fleet; nil for a director
	// configured by its file.
	Fleet func() any
}

// Limits of a request: a virtual server is a few kilobytes; a whole
// configuration, for a plan, a few megabytes.
const (
	maxVirtualServer = 1 << 20
	maxConfig        = config.MaxSize
	// requestTimeout bounds what a request does (reads of the table).
	requestTimeout = 30 * time.Second
)

// NewHandler returns the API's handler:
//
//	GET    /healthz                                     200 "ok", or 503 naming what is stalled
//	GET    /metrics                                     the metrics
//	GET    /api/v1/status                               the director, every virtual and real server (?table=false: without reading the table)
//	GET    /api/v1/fleet                                the fleet source's state: etcd reached, revisions, keys refused
//	GET    /api/v1/virtual-servers/{name}               one virtual server's state
//	PUT    /api/v1/virtual-servers/{name}               put a virtual server in force (body: its YAML or JSON), until reverted
//	DELETE /api/v1/virtual-servers/{name}               take it out of force, until reverted
//	POST   /api/v1/virtual-servers/{name}/revert        drop what the API changed of it
//	POST   /api/v1/virtual-servers/{name}/real-servers/{address}/{action}
//	                                                    action: drain, undrain, disable or enable
//	GET    /api/v1/overrides                            the virtual servers changed through the API
//	GET    /api/v1/plan                                 what the next sync would write, with reasons
//	POST   /api/v1/plan                                 what loading the configuration in the body would write
//	POST   /api/v1/reload                               reload the configuration file
func NewHandler(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &server{o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	if o.Metrics != nil {
		mux.Handle("GET /metrics", o.Metrics)
	}
	mux.HandleFunc("GET /api/v1/status", a.status)
	mux.HandleFunc("GET /api/v1/fleet", a.fleet)
	mux.HandleFunc("GET /api/v1/virtual-servers/{name}", a.virtualServer)
	mux.HandleFunc("PUT /api/v1/virtual-servers/{name}", a.putVirtualServer)
	mux.HandleFunc("DELETE /api/v1/virtual-servers/{name}", a.deleteVirtualServer)
	mux.HandleFunc("POST /api/v1/virtual-servers/{name}/revert", a.revert)
	mux.HandleFunc("POST /api/v1/virtual-servers/{name}/real-servers/{address}/{action}", a.admin)
	mux.HandleFunc("GET /api/v1/overrides", a.overrides)
	mux.HandleFunc("GET /api/v1/plan", a.plan)
	mux.HandleFunc("POST /api/v1/plan", a.plan)
	mux.HandleFunc("POST /api/v1/reload", a.reload)
	return mux
}

type server struct{ Options }

func (a *server) healthz(w http.ResponseWriter, r *http.Request) {
	if why := a.Director.Liveness(a.Now()); why != "" {
		http.Error(w, why, http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// table reads the table, if asked and there is a way, for the real
// servers as the kernel holds them.
func (a *server) table(r *http.Request) []ipvs.VirtualServer {
	if a.Table == nil || r.URL.Query().Get("table") == "false" {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	t, err := a.Table(ctx)
	if err != nil {
		a.Logger.Warn("reading the table for the API", "err", err)
	}
	return t
}

// tableOf reads the part of the table of the virtual server name, if
// asked and there is a way.
func (a *server) tableOf(r *http.Request, name string) []ipvs.VirtualServer {
	if a.Destinations == nil {
		return a.table(r)
	}
	svc, ok := a.Director.ServiceOf(name)
	if !ok || r.URL.Query().Get("table") == "false" {
		return nil
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	dsts, err := a.Destinations(ctx, svc)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		a.Logger.Warn("reading the table for the API", "err", err)
		return nil
	}
	return []ipvs.VirtualServer{{Service: svc, Destinations: dsts}}
}

func (a *server) status(w http.ResponseWriter, r *http.Request) {
	s := a.Director.Status(a.table(r))
	if a.Fleet != nil {
		writeJSON(w, http.StatusOK, struct {
			director.Status
			Fleet any `json:"fleet"`
		}{s, a.Fleet()})
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (a *server) fleet(w http.ResponseWriter, r *http.Request) {
	if a.Fleet == nil {
		writeError(w, fmt.Errorf("this director takes its configuration from its file, not a fleet: %w", director.ErrNotFound))
		return
	}
	writeJSON(w, http.StatusOK, a.Fleet())
}

func (a *server) virtualServer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	vs, ok := a.Director.VirtualServerStatus(name, a.tableOf(r, name))
	if !ok {
		writeError(w, fmt.Errorf("virtual server %q: %w", name, director.ErrNotFound))
		return
	}
	writeJSON(w, http.StatusOK, vs)
}

func (a *server) putVirtualServer(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	body, err := readBody(w, r, maxVirtualServer)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := a.Director.PutVirtualServer(name, body); err != nil {
		a.Logger.Warn("virtual server refused through the API", "virtual_server", name, "err", err)
		writeError(w, err)
		return
	}
	a.virtualServer(w, r)
}

func (a *server) deleteVirtualServer(w http.ResponseWriter, r *http.Request) {
	if err := a.Director.DeleteVirtualServer(r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *server) revert(w http.ResponseWriter, r *http.Request) {
	if err := a.Director.RevertVirtualServer(r.PathValue("name")); err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// adminActions are the actions on a real server, and the state each sets.
var adminActions = map[string]director.AdminState{
	"drain": director.AdminDrained, "undrain": director.AdminEnabled,
	"disable": director.AdminDisabled, "enable": director.AdminEnabled,
}

func (a *server) admin(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	state, ok := adminActions[action]
	if !ok {
		writeError(w, badRequest(fmt.Errorf("%q is not an action: want drain, undrain, disable or enable", action)))
		return
	}
	name, rs := r.PathValue("name"), r.PathValue("address")
	if err := a.Director.SetAdmin(name, rs, state); err != nil {
		writeError(w, err)
		return
	}
	a.virtualServer(w, r)
}

func (a *server) overrides(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Director.Overrides())
}

func (a *server) plan(w http.ResponseWriter, r *http.Request) {
	var cfg *config.Config
	if r.Method == http.MethodPost {
		body, err := readBody(w, r, maxConfig)
		if err != nil {
			writeError(w, err)
			return
		}
		source := r.URL.Query().Get("source")
		if source == "" {
			source = "request"
		}
		if cfg, err = config.Parse(source, body); err != nil {
			writeError(w, err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	p, err := a.Director.Plan(ctx, cfg)
	if err != nil {
		writeError(w, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/plain") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, p.String())
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *server) reload(w http.ResponseWriter, r *http.Request) {
	if a.Reload == nil {
		http.Error(w, "no reload here", http.StatusNotImplemented)
		return
	}
	if err := a.Reload(); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "reloaded"})
}

// badRequestError is a request that is wrong in itself.
type badRequestError struct{ error }

func badRequest(err error) error { return badRequestError{err} }

// readBody reads a request's body, at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, badRequest(fmt.Errorf("the body is larger than %d bytes", limit))
	}
	return b, err
}

// writeJSON writes v as the response.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// writeError answers with the error, as {"error": "...", "errors":
// [...]}: 404 for what is not found, 400 for a configuration or a
// request that is wrong, 409 for a change that conflicts with what is
// in force, 500 for the rest.
func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var cerrs config.Errors
	var bad badRequestError
	switch {
	case errors.Is(err, director.ErrNotFound):
		code = http.StatusNotFound
	case errors.As(err, &cerrs), errors.As(err, &bad):
		code = http.StatusBadRequest
	case errors.Is(err, director.ErrConflict):
		code = http.StatusConflict
	}
	body := map[string]any{"error": err.Error()}
	if len(cerrs) > 0 {
		body["errors"] = cerrs
	}
	writeJSON(w, code, body)
}
