// How kots-backup's deployed processes run Node (the Lambdas here; deploy/'s systemd unit and
// Deployment set the same, a test holds them equal): a 1 MiB young-generation semi-space. An export
// streams its bytes through socket read buffers that become garbage at once; with Node's default
// young generation they are reclaimed only after tens of MB have piled up (peak RSS), with 1 MiB
// every few MiB. Measured in bench/results.md (export and freshness rows run both ways).
export const NODE_OPTIONS = "--max-semi-space-size=1";
