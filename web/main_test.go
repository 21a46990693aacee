package web_test

import (
	"os"
	"testing"

	"github.com/hookline/hookline/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
