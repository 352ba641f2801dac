package bounded

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestExcerpt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 0, "plain"},
		{"a\x1b[31mb\r\nc\x00", 0, "a [31mb  c "},
		{"abcdef", 3, "abc..."},
		{"ééé", 3, "é..."}, // the second é is cut in two and dropped
		{"\xff\xfe", 0, "  "},
		{"line\u2028sep", 0, "line sep"},
	} {
		if got := Excerpt(tc.in, tc.max); got != tc.want {
			t.Errorf("Excerpt(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
	long := Excerpt(strings.Repeat("x\x07", 10000), 0)
	if len(long) != ExcerptLen+3 || strings.IndexFunc(long, unicode.IsControl) >= 0 || !utf8.ValidString(long) {
		t.Errorf("Excerpt of 20000 bytes: %d bytes %q", len(long), long)
	}
}

func TestReadAll(t *testing.T) {
	b, err := ReadAll(strings.NewReader("12345"), 5)
	if err != nil || string(b) != "12345" {
		t.Fatalf("ReadAll at the limit: %q %v", b, err)
	}
	b, err = ReadAll(strings.NewReader("123456"), 5)
	if !errors.Is(err, ErrTooLarge) || string(b) != "12345" {
		t.Fatalf("ReadAll past the limit: %q %v", b, err)
	}
}

func TestBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.(http.Flusher).Flush() // no Content-Length
		}
		_, _ = io.WriteString(w, strings.Repeat("x", 100))
	}))
	defer srv.Close()
	c := &http.Client{Transport: Body(nil, 100)}
	for path, limit := range map[string]int64{"/exact": 100, "/chunked": 99, "/declared": 99} {
		c.Transport = Body(nil, limit)
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			if limit < 100 && errors.Is(err, ErrTooLarge) {
				continue // refused from Content-Length
			}
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if limit == 100 && (err != nil || len(b) != 100) {
			t.Errorf("%s: a body of exactly the limit: %d bytes, %v", path, len(b), err)
		}
		if limit < 100 && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: a body past the limit: %d bytes, %v", path, len(b), err)
		}
	}
}

func TestError(t *testing.T) {
	inner := errors.New(strings.Repeat("body\x1b", 1000))
	err := Error("step", inner)
	if !errors.Is(err, inner) || len(err.Error()) > len("step: ")+ExcerptLen+3 || strings.ContainsRune(err.Error(), '\x1b') {
		t.Fatalf("Error: %q", err)
	}
	if Error("x", nil) != nil {
		t.Fatal("Error of nil is not nil")
	}
}
