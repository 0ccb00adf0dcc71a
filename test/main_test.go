package test

import (
	"os"
	"testing"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestMain removes the jobcluster binary the tests built once they ran.
func TestMain(m *testing.M) {
	code := m.Run()
	testcluster.RemoveBinary()
	os.Exit(code)
}
