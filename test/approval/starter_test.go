package approval

import (
	"os"
	"os/exec"
	"path/filepath"
)

// starterCommand runs the starter CLI (built once per test binary) against the system.
func starterCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(starterBinary(), args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+sys.Stack.Kubeconfig, "TEMPORAL_ADDRESS="+sys.Stack.TemporalAddress)
	return cmd
}

var starterPath string

func starterBinary() string {
	if starterPath != "" {
		return starterPath
	}
	dir, err := os.MkdirTemp("", "certflow-starter-")
	if err != nil {
		panic(err)
	}
	starterPath = filepath.Join(dir, "starter")
	build := exec.Command("go", "build", "-o", starterPath, "./cmd/starter")
	build.Dir = sys.Root
	if out, err := build.CombinedOutput(); err != nil {
		panic("build starter: " + err.Error() + "\n" + string(out))
	}
	return starterPath
}
