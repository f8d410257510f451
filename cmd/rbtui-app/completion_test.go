package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bashCompletion is Debian's bash-completion, which the completion scripts
// of /usr/share/bash-completion/completions run under.
const bashCompletion = "/usr/share/bash-completion/bash_completion"

// TestBashCompletion loads `rbtui completion bash` into bash (with
// bash-completion, as an interactive shell has it) and completes words as
// a TAB would: `rbtui se` to send and serve, a flag's values, a dead
// letter's subcommands. The script asks rbtui itself (rbtui __complete),
// through the front program, as on an installed system.
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Fatalf("bash-completion is not installed (apt-get install bash-completion; scripts/test.sh installs it): %v", err)
	}
	env := testEnv(t, "amqp://guest:guest@127.0.0.1:1/")
	env = append(env, "PATH="+filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
	script := filepath.Join(t.TempDir(), "rbtui.bash")
	r := rbtui(t, env, "", "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "complete -o default -F __start_rbtui rbtui") {
		t.Fatalf("rbtui completion bash: exit %d, stderr %q", r.code, r.stderr)
	}
	if err := os.WriteFile(script, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		line string
		want []string
	}{
		{"rbtui se", []string{"send", "serve"}},
		{"rbtui history --direction ", []string{"mo", "mt"}},
		{"rbtui signal --format j", []string{"json"}},
		{"rbtui dead ", []string{"discard", "requeue"}},
		{"rbtui help si", []string{"signal"}},
	} {
		// COMP_WORDS as bash splits the line; an empty last word when it
		// ends in a space.
		words := strings.Fields(tt.line)
		if strings.HasSuffix(tt.line, " ") {
			words = append(words, "")
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		prog := `source "$1"; source "$2"
COMP_WORDS=(` + strings.Join(quoted, " ") + `); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$3"; COMP_POINT=${#COMP_LINE}
__start_rbtui rbtui "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
printf '%s\n' "${COMPREPLY[@]}"`
		r := runCmd(t, "bash", env, "", "-c", prog, "bash", bashCompletion, script, tt.line)
		got := strings.Fields(r.stdout)
		slices.Sort(got)
		if r.code != 0 || !slices.Equal(got, tt.want) {
			t.Errorf("%q completes to %q (exit %d, stderr %q), want %q", tt.line, got, r.code, r.stderr, tt.want)
		}
	}
}
