//! `calc`: evaluates an arithmetic expression (+ - * / % ^, parentheses, unary minus).

wit_bindgen::generate!({ world: "tool", path: "../../wit" });

struct Calc;

impl Guest for Calc {
    fn describe() -> ToolInfo {
        ToolInfo {
            name: "calc".to_string(),
            description: "Evaluate an arithmetic expression with + - * / % ^ and parentheses.".to_string(),
            parameters_schema:
                r#"{"type":"object","properties":{"expression":{"type":"string"}},"required":["expression"]}"#
                    .to_string(),
        }
    }

    fn execute(params: String) -> Result<String, ToolError> {
        let expression = expression_param(&params)
            .ok_or_else(|| ToolError::InvalidParams("expected {\"expression\": \"...\"}".to_string()))?;
        let mut parser = Parser { bytes: expression.as_bytes(), position: 0 };
        let value = parser.expression().map_err(ToolError::Failed)?;
        parser.skip_spaces();
        if parser.position != parser.bytes.len() {
            return Err(ToolError::Failed(format!("unexpected character at offset {}", parser.position)));
        }
        if !value.is_finite() {
            return Err(ToolError::Failed("result is not a finite number".to_string()));
        }
        Ok(format!("{{\"value\":{value}}}"))
    }
}

/// Pulls the `expression` string out of `{"expression": "..."}` without a JSON dependency,
/// which keeps this tool the smallest one (the benchmarks use it as the trivial call).
fn expression_param(params: &str) -> Option<String> {
    let after_key = params.split_once("\"expression\"")?.1;
    let after_colon = after_key.trim_start().strip_prefix(':')?.trim_start();
    let body = after_colon.strip_prefix('"')?;
    let end = body.find('"')?;
    Some(body[..end].to_string())
}

struct Parser<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.bytes.get(self.position).is_some_and(u8::is_ascii_whitespace) {
            self.position += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_spaces();
        self.bytes.get(self.position).copied()
    }

    fn expression(&mut self) -> Result<f64, String> {
        let mut value = self.term()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.position += 1;
            let rhs = self.term()?;
            value = if op == b'+' { value + rhs } else { value - rhs };
        }
        Ok(value)
    }

    fn term(&mut self) -> Result<f64, String> {
        let mut value = self.power()?;
        while let Some(op @ (b'*' | b'/' | b'%')) = self.peek() {
            self.position += 1;
            let rhs = self.power()?;
            value = match op {
                b'*' => value * rhs,
                _ if rhs == 0.0 => return Err("division by zero".to_string()),
                b'/' => value / rhs,
                _ => value % rhs,
            };
        }
        Ok(value)
    }

    fn power(&mut self) -> Result<f64, String> {
        let base = self.unary()?;
        if self.peek() == Some(b'^') {
            self.position += 1;
            let exponent = self.power()?;
            return Ok(base.powf(exponent));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<f64, String> {
        if self.peek() == Some(b'-') {
            self.position += 1;
            return Ok(-self.unary()?);
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<f64, String> {
        match self.peek() {
            Some(b'(') => {
                self.position += 1;
                let value = self.expression()?;
                if self.peek() != Some(b')') {
                    return Err(format!("missing ')' at offset {}", self.position));
                }
                self.position += 1;
                Ok(value)
            }
            Some(c) if c.is_ascii_digit() || c == b'.' => {
                let start = self.position;
                while self.bytes.get(self.position).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
                    self.position += 1;
                }
                let text = std::str::from_utf8(&self.bytes[start..self.position])
                    .map_err(|_| "number is not ascii".to_string())?;
                text.parse::<f64>().map_err(|_| format!("bad number {text:?} at offset {start}"))
            }
            Some(_) => Err(format!("unexpected character at offset {}", self.position)),
            None => Err("expression ended early".to_string()),
        }
    }
}

export!(Calc);
