//! Renders record.md and record.html from the view with handlebars.
//!
//! The templates ship in the binary (`templates/`); `--template DIR` can
//! replace them with an organisation's own `record.md.hbs` and
//! `record.html.hbs`. Markdown output escapes table-breaking characters;
//! HTML output escapes everything that came from a scenario or a target.

use std::path::Path;

use handlebars::Handlebars;

use super::view::View;

const MD: &str = include_str!("templates/record.md.hbs");
const HTML: &str = include_str!("templates/record.html.hbs");

pub fn render(view: &View, templates: Option<&Path>) -> Result<(String, String), String> {
    let (md_src, html_src) = match templates {
        Some(dir) => (
            std::fs::read_to_string(dir.join("record.md.hbs")).unwrap_or_else(|_| MD.to_string()),
            std::fs::read_to_string(dir.join("record.html.hbs"))
                .unwrap_or_else(|_| HTML.to_string()),
        ),
        None => (MD.to_string(), HTML.to_string()),
    };
    let mut md = Handlebars::new();
    md.register_escape_fn(escape_markdown);
    let md = md
        .render_template(&md_src, view)
        .map_err(|e| format!("record.md template: {e}"))?;
    let html = Handlebars::new();
    let html = html
        .render_template(&html_src, view)
        .map_err(|e| format!("record.html template: {e}"))?;
    Ok((md, html))
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
