package http01

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode"
)

// rawServer answers every connection on 127.0.0.1 with what respond writes after the
// request's headers, and returns its port.
func rawServer(t *testing.T, respond func(w *bufio.Writer, path string)) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				w := bufio.NewWriter(c)
				respond(w, req.URL.Path)
				_ = w.Flush()
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestSelfCheckBoundsHostileResponses: whatever the challenged name's server answers
// (a status line of kilobytes, escape sequences, a body of megabytes, a redirect to a
// huge URL), the self check reads a bounded amount and its Detail, which goes into the
// Challenge's status, is short and printable.
func TestSelfCheckBoundsHostileResponses(t *testing.T) {
	hostile := strings.Repeat("A\x1b[31mB\r", 1000)
	body := strings.Repeat("body\x00\x1b[2J", 1<<20/9)
	port := rawServer(t, func(w *bufio.Writer, path string) {
		switch {
		case strings.HasSuffix(path, "/status"):
			fmt.Fprintf(w, "HTTP/1.1 404 %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", strings.ReplaceAll(hostile, "\r", " "), len(body), body)
		case strings.HasSuffix(path, "/big"):
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
		case strings.HasSuffix(path, "/redirect"):
			fmt.Fprintf(w, "HTTP/1.1 302 Found\r\nLocation: /%s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", strings.Repeat("r", 12000))
		default:
			fmt.Fprintf(w, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		}
	})
	client := NewSelfCheckClient(SelfCheckOptions{Port: port, Timeout: 5 * time.Second})
	for _, tok := range []string{"status", "big", "redirect"} {
		t.Run(tok, func(t *testing.T) {
			res := SelfCheck(context.Background(), client, SelfCheckURL("127.0.0.1", tok), "k.thumb")
			t.Logf("Detail (%d bytes): %s", len(res.Detail), res.Detail)
			if res.OK {
				t.Fatal("OK for a hostile response")
			}
			if len(res.Detail) > maxDetail+3 {
				t.Errorf("Detail is %d bytes, want at most %d", len(res.Detail), maxDetail+3)
			}
			if i := strings.IndexFunc(res.Detail, unicode.IsControl); i >= 0 {
				t.Errorf("Detail carries control character %q at %d", res.Detail[i], i)
			}
			if strings.Contains(res.Detail, strings.Repeat("r", 300)) || strings.Count(res.Detail, "[31mB") > 20 || strings.Count(res.Detail, "body") > 20 {
				t.Error("Detail quotes more than an excerpt of what the server sent")
			}
		})
	}
}
