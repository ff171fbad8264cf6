//! Fairtrain relayer.
