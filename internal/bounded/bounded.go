// Package bounded reads what other parties control (HTTP responses of servers a user
// names, their error texts) within fixed limits, and turns such text into a short,
// printable excerpt fit for a status message.
package bounded

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ExcerptLen is how many bytes of text another party controls may reach a status
// message or an error.
const ExcerptLen = 256

// Excerpt returns at most max bytes of s (ExcerptLen when max <= 0) with every control
// or invalid character replaced by a space and "..." appended when s was cut. It never
// cuts a UTF-8 character in two.
func Excerpt(s string, max int) string {
	if max <= 0 {
		max = ExcerptLen
	}
	cut := false
	if len(s) > max {
		s, cut = s[:max], true
		// Drop a character cut in two at the end.
		for i := 0; i < utf8.UTFMax && len(s) > 0; i++ {
			r, size := utf8.DecodeLastRuneInString(s)
			if r != utf8.RuneError || size != 1 {
				break
			}
			s = s[:len(s)-1]
		}
	}
	var b strings.Builder
	b.Grow(len(s) + 3)
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			r = ' '
		}
		b.WriteRune(r)
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

// ErrTooLarge is returned (wrapped) by a body read past its limit.
var ErrTooLarge = errors.New("response too large")

// ReadAll reads r up to max bytes. More than max bytes is an error wrapping
// ErrTooLarge; the first max bytes are returned with it.
func ReadAll(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if int64(len(b)) > max {
		return b[:max], fmt.Errorf("%w: more than %d bytes", ErrTooLarge, max)
	}
	return b, err
}

// Body limits the bodies of the responses rt returns to max bytes: a read past it fails
// with an error wrapping ErrTooLarge. A nil rt is http.DefaultTransport.
func Body(rt http.RoundTripper, max int64) http.RoundTripper {
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &bodyLimit{rt: rt, max: max}
}

type bodyLimit struct {
	rt  http.RoundTripper
	max int64
}

func (t *bodyLimit) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, fmt.Errorf("%s %s: %w: Content-Length %d, at most %d bytes read", req.Method, req.URL.Redacted(), ErrTooLarge, resp.ContentLength, t.max)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

type limitedBody struct {
	rc        io.ReadCloser
	left, max int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly max bytes from a longer one.
		// The body is closed at once: a caller that stops at the error (lego does not
		// close a body it failed to read) must not keep the connection busy.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			b.rc.Close()
			return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, b.max)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// Error keeps err for errors.Is and errors.As but shows only an excerpt of its text,
// after prefix (when not empty) and ": ".
func Error(prefix string, err error) error {
	if err == nil {
		return nil
	}
	msg := Excerpt(err.Error(), ExcerptLen)
	if prefix != "" {
		msg = prefix + ": " + msg
	}
	return &excerptError{msg: msg, err: err}
}

type excerptError struct {
	msg string
	err error
}

func (e *excerptError) Error() string { return e.msg }
func (e *excerptError) Unwrap() error { return e.err }
