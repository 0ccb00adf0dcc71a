package ui

import (
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// tokenCookie holds the ACL token a browser signed in with. It is
// HttpOnly and SameSite=Strict: scripts cannot read it and other sites
// cannot send it.
const tokenCookie = "jobcluster_token"

// withToken makes every service call of the request carry the caller's
// ACL token: the one in an Authorization header, else the signed-in one.
func withToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			if c, err := r.Cookie(tokenCookie); err == nil && c.Value != "" {
				auth = "Bearer " + c.Value
			}
		}
		// The call is a user's, not the server's whose certificate the UI
		// dials with: with ACLs on, the user's token decides.
		md := []string{"x-jobcluster-on-behalf", "ui"}
		if auth != "" {
			md = append(md, "authorization", auth)
		}
		r = r.WithContext(metadata.AppendToOutgoingContext(r.Context(), md...))
		next.ServeHTTP(w, r)
	})
}

// serveToken signs the browser in with the pasted token, or out with an
// empty one, and returns to the page it came from.
func (s *server) serveToken(w http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(r.PostFormValue("token"))
	c := &http.Cookie{Name: tokenCookie, Value: token, Path: Prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
	if token == "" {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
	next := r.PostFormValue("next")
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") {
		next = Prefix
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// needsToken reports whether a call failed for want of a (better) token,
// so that the page offers to sign in.
func needsToken(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated:
		return true
	case codes.PermissionDenied:
		return strings.Contains(status.Convert(err).Message(), "token")
	}
	return false
}

// signedIn reports whether the browser holds a token.
func signedIn(r *http.Request) bool {
	c, err := r.Cookie(tokenCookie)
	return err == nil && c.Value != ""
}
