package upstashcache_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/viborm/viborm-go/internal/testenv"
)

// testDB is the database of the shared Redis that this package's tests own.
const testDB = 10

const testToken = "test-token"

// newGateway starts an HTTP server speaking Upstash's REST protocol in front
// of the shared Redis: POST / with a command as a JSON array, POST /pipeline
// with an array of them, a bearer token, {"result":…} and {"error":"…"}
// replies. The live service is not reachable from the test environment.
func newGateway(t testing.TB) (*httptest.Server, *redis.Client) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(t), DB: testDB, Protocol: 2})
	t.Cleanup(func() { rdb.Close() })
	srv := httptest.NewServer(gateway(rdb))
	t.Cleanup(srv.Close)
	return srv, rdb
}

type gwReply struct {
	Result any    `json:"result"`
	Error  string `json:"error,omitempty"`
}

func gateway(rdb *redis.Client) http.Handler {
	run := func(ctx context.Context, cmd []any) gwReply {
		if len(cmd) == 0 {
			return gwReply{Error: "ERR empty command"}
		}
		v, err := rdb.Do(ctx, cmd...).Result()
		switch {
		case errors.Is(err, redis.Nil):
			return gwReply{Result: nil}
		case err != nil:
			return gwReply{Error: err.Error()}
		}
		return gwReply{Result: v}
	}
	write := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			write(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized"})
			return
		}
		if r.Method != http.MethodPost {
			write(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed"})
			return
		}
		switch r.URL.Path {
		case "/", "":
			var cmd []any
			if err := json.NewDecoder(r.Body).Decode(&cmd); err != nil {
				write(w, http.StatusBadRequest, map[string]string{"error": "ERR failed to parse command"})
				return
			}
			rep := run(r.Context(), cmd)
			if rep.Error != "" {
				write(w, http.StatusBadRequest, map[string]string{"error": rep.Error})
				return
			}
			write(w, http.StatusOK, map[string]any{"result": rep.Result})
		case "/pipeline":
			var cmds [][]any
			if err := json.NewDecoder(r.Body).Decode(&cmds); err != nil {
				write(w, http.StatusBadRequest, map[string]string{"error": "ERR failed to parse pipeline request"})
				return
			}
			out := make([]any, len(cmds))
			for i, c := range cmds {
				rep := run(r.Context(), c)
				if rep.Error != "" {
					out[i] = map[string]string{"error": rep.Error}
				} else {
					out[i] = map[string]any{"result": rep.Result}
				}
			}
			write(w, http.StatusOK, out)
		default:
			write(w, http.StatusNotFound, map[string]string{"error": "not found"})
		}
	})
}
