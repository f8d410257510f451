package redact

import (
	"net/url"
	"strings"
	"testing"

	amqp "github.com/rabbitmq/amqp091-go"
)

const secret = "s3cr3tpw"

func TestURL(t *testing.T) {
	cases := []struct{ in, want string }{
		{"amqp://guest:" + secret + "@localhost:5672/", "amqp://guest:xxxxx@localhost:5672/"},
		// An unescaped '@' in the password: net/url splits at the last '@'.
		{"amqp://guest:pa@" + secret + "@broker:5672/", "amqp://guest:xxxxx@broker:5672/"},
		{"amqp://localhost/", "amqp://localhost/"},
		// Unparsable: a space, a bad escape, a port that is the password.
		{"amqp://guest:pa ss" + secret + "@host/", "amqp://***@host/"},
		{"amqp://guest:%zz" + secret + "@host/", "amqp://***@host/"},
		{"amqp://guest:" + secret, "amqp://(unparsable)"},
		{"amqp:guest:" + secret + "@host", "(unparsable URL)"},
		{"guest:" + secret + "@host", "(unparsable URL)"},
		{"", "(unparsable URL)"},
	}
	for _, c := range cases {
		got := URL(c.in)
		if got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
		if strings.Contains(got, secret) {
			t.Errorf("URL(%q) shows the password: %q", c.in, got)
		}
	}
}

// TestError: the errors amqp091-go's ParseURI gives for malformed URLs quote
// the password; Error never does.
func TestError(t *testing.T) {
	for _, u := range []string{
		"amqp://guest:" + secret,               // the password taken for a port
		"amqp://guest:%zz" + secret + "@host/", // a bad escape
		"amqp://guest:" + secret + "@host:99999999999/",
		"amqp://gu\x7fest:" + secret + "@host/",
		"amqps://guest:" + secret + "@[::1/",
		"http://guest:" + secret + "@host/",
	} {
		_, perr := amqp.ParseURI(u)
		if perr == nil {
			t.Fatalf("ParseURI(%q) accepted it", u)
		}
		err := Error(u, perr)
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Error(%q) = %q shows the password", u, err)
		}
		if !strings.HasPrefix(err.Error(), "bad broker URL ") {
			t.Errorf("Error(%q) = %q", u, err)
		}
	}
}

func FuzzURL(f *testing.F) {
	f.Add("amqp://guest:" + secret + "@localhost:5672/")
	f.Add("amqp://guest:pa@" + secret + "@broker/")
	f.Add("amqp://guest:" + secret)
	f.Fuzz(func(t *testing.T, pw string) {
		if len(pw) < 4 {
			return
		}
		for _, u := range []string{"amqp://user:" + pw + "@host:5672/", "amqp://user:" + pw} {
			got := URL(u)
			_, perr := amqp.ParseURI(u)
			if u == "amqp://user:"+pw && (parses(u) || strings.Contains(pw, "@")) {
				continue // without a host, the URL's own rules make part of it the host
			}
			es := ""
			if perr != nil {
				es = Error(u, perr).Error()
			}
			// The password may be a substring of what is legitimately
			// shown (a host named like it); only look for it where it is
			// not part of the fixed text.
			if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(got, "amqp://user:xxxxx@host:5672/", ""), "amqp://", ""), pw) && !strings.Contains("host:5672/user(unparsable)***@", pw) {
				t.Fatalf("URL(%q) = %q shows the password", u, got)
			}
			if es != "" && strings.Contains(strings.TrimPrefix(es, "bad broker URL "+got+": "), pw) && !strings.Contains("malformed URL (a user name or password holding a reserved character such as @ : / ? # % must be percent-encoded)(bad port number)", pw) {
				t.Fatalf("Error(%q) = %q shows the password", u, es)
			}
		}
	})
}

func parses(u string) bool { _, err := url.Parse(u); return err == nil }

func TestSplit(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{" , \n", nil},
		{"amqp://a/", []string{"amqp://a/"}},
		{"amqp://a/,amqp://b/", []string{"amqp://a/", "amqp://b/"}},
		{" amqp://a/ ,\n\tamqps://b:5671/  amqp://c/,", []string{"amqp://a/", "amqps://b:5671/", "amqp://c/"}},
		// A comma in a password is not a separator: no URL follows it.
		{"amqp://u:p,w@a/,amqp://u:p,w@b/", []string{"amqp://u:p,w@a/", "amqp://u:p,w@b/"}},
		// Whatever is not a URL stays with the URL before it, where parsing refuses it.
		{"amqp://a/ junk amqp://b/", []string{"amqp://a/ junk", "amqp://b/"}},
		{"junk, amqp://b/", []string{"junk", "amqp://b/"}},
		// A non-ASCII byte is never taken for whitespace.
		{"amqp://u:p\u00a0x@a/,amqp://b/", []string{"amqp://u:p\u00a0x@a/", "amqp://b/"}},
	}
	for _, c := range cases {
		got := Split(c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") || len(got) != len(c.want) {
			t.Errorf("Split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestURLList(t *testing.T) {
	in := "amqp://guest:" + secret + "@n1:5672/, amqp://guest:" + secret + "@n2:5672/\namqp://guest:pa ss" + secret + "@n3/"
	got := URL(in)
	want := "amqp://guest:xxxxx@n1:5672/, amqp://guest:xxxxx@n2:5672/, amqp://***@n3/"
	if got != want {
		t.Errorf("URL(list) = %q, want %q", got, want)
	}
	if strings.Contains(got, secret) {
		t.Errorf("URL(list) shows the password: %q", got)
	}
}
