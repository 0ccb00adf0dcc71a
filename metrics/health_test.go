package metrics

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHealthHandler(t *testing.T) {
	leader := Check{Name: "leader", Run: func() error { return nil }}
	noLeader := Check{Name: "leader", Run: func() error { return errors.New("no leader known (last: s1, term 3)") }}
	applied := Check{Name: "applied", Run: func() error { return nil }}
	tests := []struct {
		name     string
		checks   []Check
		query    string
		wantCode int
		wantBody string
	}{
		{
			name: "all pass, terse", checks: []Check{leader, applied},
			wantCode: http.StatusOK, wantBody: "ok",
		},
		{
			name: "all pass, verbose", checks: []Check{leader, applied}, query: "?verbose",
			wantCode: http.StatusOK, wantBody: "[+]leader ok\n[+]applied ok\nreadyz check passed\n",
		},
		{
			name: "one fails, terse still lists every check", checks: []Check{noLeader, applied},
			wantCode: http.StatusInternalServerError,
			wantBody: "[-]leader failed: no leader known (last: s1, term 3)\n[+]applied ok\nreadyz check failed\n",
		},
		{
			name: "one fails, verbose", checks: []Check{noLeader, applied}, query: "?verbose=1",
			wantCode: http.StatusInternalServerError,
			wantBody: "[-]leader failed: no leader known (last: s1, term 3)\n[+]applied ok\nreadyz check failed\n",
		},
		{
			name: "failing check excluded", checks: []Check{noLeader, applied}, query: "?verbose&exclude=leader",
			wantCode: http.StatusOK, wantBody: "[+]leader excluded: ok\n[+]applied ok\nreadyz check passed\n",
		},
		{
			name: "no checks", wantCode: http.StatusOK, wantBody: "ok",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			HealthHandler("readyz", tt.checks...).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz"+tt.query, nil))
			if rec.Code != tt.wantCode {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantCode)
			}
			if got := rec.Body.String(); got != tt.wantBody {
				t.Errorf("body:\ngot:\n%s\nwant:\n%s", got, tt.wantBody)
			}
		})
	}
}
