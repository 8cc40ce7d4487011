//! Renders record.md and record.html from the view with handlebars.
//!
//! The templates ship in the binary (`templates/`); `--template DIR` can
//! replace them with an organisation's own `record.md.hbs` and
//! `record.html.hbs`. Markdown output escapes table-breaking characters;
//! HTML output escapes everything that came from a scenario or a target.

use std::path::Path;

use handlebars::{Context, Handlebars};

use super::view::View;

const MD: &str = include_str!("templates/record.md.hbs");
const HTML: &str = include_str!("templates/record.html.hbs");

/// The view as the templates read it (handlebars works on JSON). Made once
/// for both templates: for a storm's record this JSON is the largest thing
/// in memory, so the caller can drop the view before rendering.
pub fn context(view: &View) -> Result<Context, String> {
    Context::wraps(view).map_err(|e| format!("record view: {e}"))
}

/// record.md, from `--template DIR`'s `record.md.hbs` or the built-in one.
pub fn markdown(context: &Context, templates: Option<&Path>) -> Result<String, String> {
    let src = template(templates, "record.md.hbs", MD);
    let mut md = Handlebars::new();
    md.register_escape_fn(escape_markdown);
    md.render_template_with_context(&src, context)
        .map_err(|e| format!("record.md template: {e}"))
}

/// record.html, from `--template DIR`'s `record.html.hbs` or the built-in
/// one.
pub fn html(context: &Context, templates: Option<&Path>) -> Result<String, String> {
    let src = template(templates, "record.html.hbs", HTML);
    Handlebars::new()
        .render_template_with_context(&src, context)
        .map_err(|e| format!("record.html template: {e}"))
}

fn template(dir: Option<&Path>, name: &str, builtin: &str) -> String {
    dir.and_then(|d| std::fs::read_to_string(d.join(name)).ok())
        .unwrap_or_else(|| builtin.to_string())
}

/// Keeps scenario text from breaking Markdown tables or injecting markup.
fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}
