//go:build linux

package main

func report(in, out, chart string) error { return nil }
