package cache

// KeyOptions configures [Key]. A nil *KeyOptions means no version and the
// default hash.
type KeyOptions struct {
	// Version, when set, makes the key "viborm:v<Version>:…".
	Version string
	// Compat selects VibORM's TypeScript hash, reproducing its keys byte for
	// byte for JSON-like arguments. It is a 64-bit non-cryptographic hash:
	// use it only to share entries with TypeScript services.
	Compat bool
}

// Key returns "viborm[:v<version>]:<model>:<op>:<hash>" for args.
func Key(model, op string, args any, opts *KeyOptions) (string, error) { panic("TODO") }

// Prefix returns "viborm[:v<version>]" (version "" means none).
func Prefix(version string) string {
	if version == "" {
		return "viborm"
	}
	return "viborm:v" + version
}
