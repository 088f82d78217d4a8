module vgis-peer

go 1.26.0

// vgis.dev/peersdk is the kit's Go peer SDK (peers/sdk/go), which no module
// proxy serves: build.py points a copy of this file at the installed kit's
// folder (go mod edit -replace). The rest are the SDK's requirements, and
// go.sum is the SDK's go.sum.
require (
	github.com/apache/arrow-go/v18 v18.6.0
	vgis.dev/peersdk v0.0.0
)

require (
	github.com/goccy/go-json v0.10.6 // indirect
	github.com/google/flatbuffers v25.12.19+incompatible // indirect
	github.com/klauspost/compress v1.18.5 // indirect
	github.com/klauspost/cpuid/v2 v2.3.0 // indirect
	github.com/pierrec/lz4/v4 v4.1.26 // indirect
	github.com/zeebo/xxh3 v1.1.0 // indirect
	golang.org/x/exp v0.0.0-20260112195511-716be5621a96 // indirect
	golang.org/x/sys v0.43.0 // indirect
)
