package service

// OnSigned sets a function called with the serial of every certificate s
// signs, before the write transaction that may record it.
func OnSigned(s *Service, f func(serial string)) { s.signed = f }
