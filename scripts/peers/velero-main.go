// The `velero` binary of the real test peers (built by build-real-peers.sh): Velero's own command, with
// controller-runtime's metrics listener turned off. Velero starts that listener on :8080, on every
// interface, with no flag to move it; two Velero instances (source and DR) on one machine would collide,
// and a test peer must listen on loopback only.
package main

import (
	"os"
	"path/filepath"

	"github.com/vmware-tanzu/velero/pkg/cmd"
	"github.com/vmware-tanzu/velero/pkg/cmd/velero"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

func main() {
	metricsserver.DefaultBindAddress = "0"
	err := velero.NewCommand(filepath.Base(os.Args[0])).Execute()
	cmd.CheckError(err)
}
