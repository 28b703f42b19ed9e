//go:build !race

package dingtalksim

// raceEnabled relaxes timing assertions under the race detector, which slows code ~5x.
const raceEnabled = false
