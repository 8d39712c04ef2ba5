package httpapi

import (
	"embed"
	"net/http"
)

// static holds the OpenAPI document and the documentation page, served
// from the binary so that nothing is fetched from the internet.
//
//go:embed static/openapi.json static/docs.html static/docs.js
var static embed.FS

// openAPI serves the OpenAPI 3 document.
func (s *server) openAPI() http.Handler {
	return staticFile("static/openapi.json", "application/json")
}

// docs serves the interactive documentation: a page whose script loads
// the OpenAPI document and renders every operation with a form to try
// it. The script is served under the page's path with ?script=1 so that
// the page needs one route only.
func (s *server) docs() http.Handler {
	page := staticFile("static/docs.html", "text/html; charset=utf-8")
	script := staticFile("static/docs.js", "text/javascript; charset=utf-8")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("script") == "1" {
			script.ServeHTTP(w, r)
			return
		}
		page.ServeHTTP(w, r)
	})
}

// staticFile serves one embedded file with its content type.
func staticFile(name, contentType string) http.Handler {
	body, err := static.ReadFile(name)
	if err != nil {
		panic("httpapi: embedded file missing: " + name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(body)
	})
}
