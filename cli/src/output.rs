//! Rendering reports as text for people or JSON for scripts.

use serde::Serialize;

/// A command's result: readable text, or JSON with `--json`.
pub trait Render: Serialize {
    /// The readable form.
    fn text(&self) -> String;

    /// The form `--json` selects (pretty JSON) or the text.
    fn render(&self, json: bool) -> String {
        if json {
            serde_json::to_string_pretty(self).expect("reports serialize")
        } else {
            self.text()
        }
    }
}
