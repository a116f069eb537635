//! Small helpers for reading and writing plain JS objects without serde (size: REFERENCE §6).

use js_sys::Object;
use wasm_bindgen::{JsCast, JsValue};

/// `obj[key]`, or `undefined` when `obj` is not an object or the lookup throws (one JS call:
/// smaller than `Reflect::get` with its key conversion and exception plumbing).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    crate::http::get(obj, key)
}

/// `obj[key]` when it is a string.
pub fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `obj[key]` when it is a number.
pub fn get_f64(obj: &JsValue, key: &str) -> Option<f64> {
    get(obj, key).as_f64()
}

/// A JS value of an unexpected shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// `obj[key]` when it is an array of strings; `Err(Malformed)` when present but of another
/// shape.
pub fn get_str_array(obj: &JsValue, key: &str) -> Result<Option<Vec<String>>, Malformed> {
    let v = get(obj, key);
    if v.is_undefined() || v.is_null() {
        return Ok(None);
    }
    let arr: &js_sys::Array = v.dyn_ref().ok_or(Malformed)?;
    let mut out = Vec::with_capacity(arr.length() as usize);
    for item in arr.iter() {
        out.push(item.as_string().ok_or(Malformed)?);
    }
    Ok(Some(out))
}

/// `obj[key] = value` (on a plain object this cannot throw).
pub fn set(obj: &Object, key: &str, value: &JsValue) {
    crate::http::set(obj, key, value);
}

/// `Some(s)` → the string, `None` → `null`.
pub fn opt_str(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// Whether a value is a non-null, non-array object.
pub fn is_plain_object(value: &JsValue) -> bool {
    value.is_object() && !js_sys::Array::is_array(value)
}
