package client

import (
	"testing"

	"github.com/irpki/irpki/internal/wire"
)

// The public constants are spelled out so that the package's documentation
// names no internal type; they must still be the wire's values.
func TestPublicConstantsMatchTheWire(t *testing.T) {
	pairs := []struct {
		public Code
		wire   wire.Code
	}{
		{CodeWindowNotOpen, wire.CodeWindowNotOpen},
		{CodeSignerExpired, wire.CodeSignerExpired},
		{CodeSignerRevoked, wire.CodeSignerRevoked},
		{CodeAlreadyRenewed, wire.CodeAlreadyRenewed},
		{CodeKeyReused, wire.CodeKeyReused},
		{CodeTransferUsed, wire.CodeTransferUsed},
		{CodeInternal, wire.CodeInternal},
	}
	for _, p := range pairs {
		if string(p.public) != string(p.wire) {
			t.Errorf("client code %q, wire code %q", p.public, p.wire)
		}
	}
	if EnvTest != wire.EnvTest || EnvProduction != wire.EnvProduction {
		t.Errorf("environments %q/%q, wire %q/%q", EnvTest, EnvProduction, wire.EnvTest, wire.EnvProduction)
	}
}
