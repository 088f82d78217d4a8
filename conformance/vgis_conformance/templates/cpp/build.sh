#!/bin/sh
# Build the peer: sh build.sh OUT_DIR (the harness passes {build}; by hand, use .).
# Needs a C++17 compiler and the nlohmann/json header.
set -eu
out="${1:-.}"
cxx="${CXX:-g++}"
mkdir -p "$out"
if ! printf '#include <nlohmann/json.hpp>\n' | "$cxx" -std=c++17 ${CXXFLAGS:-} -x c++ -E - -o /dev/null 2>/dev/null; then
  cat >&2 <<'MSG'
************************************************************************
* build failed: the header <nlohmann/json.hpp> was not found.          *
* Install nlohmann/json, then build again:                             *
*   Debian/Ubuntu:  apt-get install nlohmann-json3-dev                 *
*   Fedora:         dnf install json-devel                             *
*   macOS:          brew install nlohmann-json                         *
*   or put json.hpp in a folder and set CXXFLAGS=-I/that/folder        *
************************************************************************
MSG
  exit 2
fi
exec "$cxx" -std=c++17 -O2 -Wall -Wextra ${CXXFLAGS:-} -o "$out/vgis-peer" peer.cc
