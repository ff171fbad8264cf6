//! The package's exceptions, one per kind of failure, each carrying a machine-readable `code`
//! (the relayer's code where the relayer refused).

use pyo3::{create_exception, exceptions::PyException, prelude::*};

create_exception!(
    fairtrain,
    FairtrainError,
    PyException,
    "Base class of every error the package raises; `.code` is machine-readable."
);
create_exception!(
    fairtrain,
    JournalError,
    FairtrainError,
    "The usage journal (SQLite) failed; nothing the failing call recorded was kept."
);
create_exception!(
    fairtrain,
    CountOverflow,
    FairtrainError,
    "Recording would push a cumulative count past what a receipt carries (2**63 - 1)."
);
create_exception!(
    fairtrain,
    RelayerUnreachable,
    FairtrainError,
    "The relayer could not be reached or kept failing; retried with backoff, nothing lost."
);
create_exception!(
    fairtrain,
    RelayerRefused,
    FairtrainError,
    "The relayer refused a whole request (`.status`, `.code`), or a receipt (`.refusals`)."
);
create_exception!(
    fairtrain,
    DatasetError,
    FairtrainError,
    "A dataset failed its check: manifest, signature, files or license."
);
create_exception!(
    fairtrain,
    GatewayRefused,
    FairtrainError,
    "A data gateway refused (`.status`, `.code`: e.g. `terms_not_accepted`) or was unreachable."
);
create_exception!(
    fairtrain,
    ProtocolError,
    FairtrainError,
    "A value is malformed (an address, a key, a receipt) or a relayer answered off-protocol."
);

/// Adds the exception classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FairtrainError", py.get_type::<FairtrainError>())?;
    m.add("JournalError", py.get_type::<JournalError>())?;
    m.add("CountOverflow", py.get_type::<CountOverflow>())?;
    m.add("RelayerUnreachable", py.get_type::<RelayerUnreachable>())?;
    m.add("RelayerRefused", py.get_type::<RelayerRefused>())?;
    m.add("DatasetError", py.get_type::<DatasetError>())?;
    m.add("GatewayRefused", py.get_type::<GatewayRefused>())?;
    m.add("ProtocolError", py.get_type::<ProtocolError>())?;
    Ok(())
}

/// An exception of class `E` with `code` (and any extra attributes) set on it.
fn raise<E: pyo3::PyTypeInfo>(
    py: Python<'_>,
    code: &str,
    message: String,
    extra: &[(&str, Py<PyAny>)],
) -> PyErr {
    let err = PyErr::new::<E, _>(message);
    let value = err.value(py);
    // Setting attributes on a fresh exception instance cannot fail.
    let _ = value.setattr("code", code);
    for (name, v) in extra {
        let _ = value.setattr(*name, v);
    }
    err
}

/// A malformed value handed in from Python.
pub(crate) fn invalid(what: &str, e: impl std::fmt::Display) -> PyErr {
    Python::attach(|py| raise::<ProtocolError>(py, "invalid_value", format!("{what}: {e}"), &[]))
}

/// The SDK's error as the matching exception.
pub(crate) fn from_sdk(e: fairtrain_sdk::Error) -> PyErr {
    use fairtrain_sdk::{relayer::RelayerError as R, Error as E};
    Python::attach(|py| {
        let message = e.to_string();
        match e {
            E::Journal { .. } => raise::<JournalError>(py, "journal", message, &[]),
            E::Corrupt(_) => raise::<JournalError>(py, "journal_corrupt", message, &[]),
            E::Overflow { .. } => raise::<CountOverflow>(py, "overflow", message, &[]),
            E::Relayer(R::Unreachable { .. }) => {
                raise::<RelayerUnreachable>(py, "unreachable", message, &[])
            }
            E::Relayer(R::Refused { status, code, .. }) => raise::<RelayerRefused>(
                py,
                &code,
                message,
                &[(
                    "status",
                    status
                        .into_pyobject(py)
                        .expect("an int")
                        .into_any()
                        .unbind(),
                )],
            ),
            E::Gateway { status, code, .. } => raise::<GatewayRefused>(
                py,
                &code,
                message,
                &[(
                    "status",
                    status
                        .into_pyobject(py)
                        .expect("an int")
                        .into_any()
                        .unbind(),
                )],
            ),
            E::Dataset(_) => raise::<DatasetError>(py, "dataset", message, &[]),
            E::Signing(_) => raise::<ProtocolError>(py, "signing", message, &[]),
            E::Relayer(R::Protocol(_)) => raise::<ProtocolError>(py, "protocol", message, &[]),
            _ => raise::<FairtrainError>(py, "error", message, &[]),
        }
    })
}

/// A relayer's refusal of individual receipts, raised by a strict flush.
pub(crate) fn receipts_refused(refusals: Py<PyAny>, first_code: &str, count: usize) -> PyErr {
    Python::attach(|py| {
        raise::<RelayerRefused>(
            py,
            first_code,
            format!("the relayer refused {count} receipt(s) (first: {first_code})"),
            &[("refusals", refusals)],
        )
    })
}
