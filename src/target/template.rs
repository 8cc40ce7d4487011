//! Rendering the `{{...}}` templates of target bodies, argv and actions.
//!
//! Handlebars in strict mode (an unknown variable is an error, not an empty
//! string) and without HTML escaping: these are request bodies and argv, not
//! pages. `{{json x}}` renders `x` as a quoted JSON string, for bodies.

use handlebars::{Handlebars, RenderErrorReason};
use serde_json::{Value, json};

use super::FireRequest;

/// A template engine configured for scenario templates.
pub fn engine() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper(
        "json",
        Box::new(
            |h: &handlebars::Helper,
             _: &Handlebars,
             _: &handlebars::Context,
             _: &mut handlebars::RenderContext,
             out: &mut dyn handlebars::Output|
             -> handlebars::HelperResult {
                let value = h
                    .param(0)
                    .map(|p| p.value().clone())
                    .ok_or(RenderErrorReason::ParamNotFoundForIndex("json", 0))?;
                out.write(&serde_json::to_string(&value).unwrap_or_default())?;
                Ok(())
            },
        ),
    );
    hb
}

/// The variables of a per-alert template.
pub fn alert_vars(req: &FireRequest) -> Value {
    json!({
        "nonce": req.nonce,
        "alert": {"name": req.alert, "title": req.title, "severity": req.severity.as_str()},
        "drill": {"name": req.drill, "run": req.run_id},
    })
}

/// The variables of `start` and action templates.
pub fn run_vars(drill: &str, run_id: &str, run_dir: &str) -> Value {
    json!({"drill": {"name": drill, "run": run_id}, "run": {"dir": run_dir}})
}

/// Renders one template string.
pub fn render(hb: &Handlebars<'_>, template: &str, vars: &Value) -> Result<String, String> {
    hb.render_template(template, vars).map_err(|e| {
        let reason = e.reason().to_string();
        format!("template `{template}`: {reason}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::model::Severity;

    fn req() -> FireRequest {
        FireRequest {
            nonce: "DRILL-r1-a-1".into(),
            alert: "a".into(),
            title: "Say \"hi\" <b>".into(),
            severity: Severity::High,
            drill: "d".into(),
            run_id: "r1".into(),
        }
    }

    #[test]
    fn renders_without_escaping_and_with_json() {
        let hb = engine();
        let vars = alert_vars(&req());
        assert_eq!(
            render(&hb, "{{alert.title}}", &vars).unwrap(),
            "Say \"hi\" <b>"
        );
        assert_eq!(
            render(&hb, "{\"t\":{{json alert.title}}}", &vars).unwrap(),
            r#"{"t":"Say \"hi\" <b>"}"#
        );
    }

    #[test]
    fn unknown_variables_are_errors() {
        let e = render(&engine(), "{{alert.nope}}", &alert_vars(&req())).unwrap_err();
        assert!(e.contains("alert.nope"), "{e}");
    }
}
