//! A `serde::Serializer` that builds a [`Value`] directly, for [`Value::from_serialize`].
//!
//! It gives exactly what going through `serde_json::to_value` gives (the tests compare the
//! two), without building a `serde_json::Value` first: a number or a short string costs no
//! allocation. The rules are serde_json's: non-finite floats become `null`, bytes become an
//! array of numbers, enums are externally tagged, and map keys must be strings (numbers,
//! bools and chars are written as strings).

use serde::ser::{self, Impossible, Serialize};

use crate::{Map, Text, Value, ValueError};

impl ser::Error for ValueError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// Serializes into a [`Value`].
pub(crate) struct ValueSerializer;

fn float(f: f64) -> Value {
    if f.is_finite() {
        Value::Float(f)
    } else {
        Value::Null
    }
}

/// `{variant: value}`, as serde_json writes an enum variant with data.
fn tagged(variant: &'static str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(Text::from_static(variant), value);
    Value::Map(map)
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = Seq;
    type SerializeTuple = Seq;
    type SerializeTupleStruct = Seq;
    type SerializeTupleVariant = Seq;
    type SerializeMap = MapBuilder;
    type SerializeStruct = MapBuilder;
    type SerializeStructVariant = MapBuilder;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        if let Ok(i) = i64::try_from(v) {
            Ok(Value::Int(i))
        } else if let Ok(u) = u64::try_from(v) {
            Ok(Value::UInt(u))
        } else {
            Err(ValueError("number out of range".into()))
        }
    }
    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| ValueError("number out of range".into()))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::String(Text::from(v)))
    }
    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::from(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Array(
            v.iter().map(|b| Value::Int((*b).into())).collect(),
        ))
    }
    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::from_static(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        Ok(tagged(variant, value.serialize(self)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq, ValueError> {
        Ok(Seq {
            items: Vec::with_capacity(len.unwrap_or(0)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq, ValueError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Seq, ValueError> {
        Ok(Seq {
            items: Vec::with_capacity(len),
            variant: Some(variant),
        })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::new(None))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::new(None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapBuilder, ValueError> {
        Ok(MapBuilder::new(Some(variant)))
    }
}

/// An array being built (for a tuple variant, tagged with the variant at the end).
pub(crate) struct Seq {
    items: Vec<Value>,
    variant: Option<&'static str>,
}

impl Seq {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn finish(self) -> Value {
        let array = Value::Array(self.items);
        match self.variant {
            Some(variant) => tagged(variant, array),
            None => array,
        }
    }
}

macro_rules! seq_impl {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for Seq {
            type Ok = Value;
            type Error = ValueError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
                self.push(value)
            }
            fn end(self) -> Result<Value, ValueError> {
                Ok(self.finish())
            }
        }
    )*};
}
seq_impl!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// A map being built (for a struct variant, tagged with the variant at the end).
pub(crate) struct MapBuilder {
    map: Map,
    next_key: Option<Text>,
    variant: Option<&'static str>,
}

impl MapBuilder {
    fn new(variant: Option<&'static str>) -> Self {
        MapBuilder {
            map: Map::new(),
            next_key: None,
            variant,
        }
    }

    fn finish(self) -> Value {
        let map = Value::Map(self.map);
        match self.variant {
            Some(variant) => tagged(variant, map),
            None => map,
        }
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.map
            .insert(Text::from_static(key), value.serialize(ValueSerializer)?);
        Ok(())
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.next_key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self
            .next_key
            .take()
            .ok_or_else(|| ValueError("a map value came before its key".into()))?;
        self.map.insert(key, value.serialize(ValueSerializer)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(self.finish())
    }
}

macro_rules! struct_impl {
    ($($trait:ident),*) => {$(
        impl ser::$trait for MapBuilder {
            type Ok = Value;
            type Error = ValueError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), ValueError> {
                self.field(key, value)
            }
            fn end(self) -> Result<Value, ValueError> {
                Ok(self.finish())
            }
        }
    )*};
}
struct_impl!(SerializeStruct, SerializeStructVariant);

/// Map keys: strings, or numbers, bools and chars written as strings (as serde_json does).
struct KeySerializer;

fn key_error() -> ValueError {
    ValueError("key must be a string".into())
}

macro_rules! key_as_string {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<Text, ValueError> {
            Ok(Text::from(v.to_string()))
        }
    )*};
}

macro_rules! key_rejected {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, _v: $ty) -> Result<Text, ValueError> {
            Err(key_error())
        }
    )*};
}

impl ser::Serializer for KeySerializer {
    type Ok = Text;
    type Error = ValueError;
    type SerializeSeq = Impossible<Text, ValueError>;
    type SerializeTuple = Impossible<Text, ValueError>;
    type SerializeTupleStruct = Impossible<Text, ValueError>;
    type SerializeTupleVariant = Impossible<Text, ValueError>;
    type SerializeMap = Impossible<Text, ValueError>;
    type SerializeStruct = Impossible<Text, ValueError>;
    type SerializeStructVariant = Impossible<Text, ValueError>;

    key_as_string!(
        serialize_bool: bool, serialize_i8: i8, serialize_i16: i16, serialize_i32: i32,
        serialize_i64: i64, serialize_i128: i128, serialize_u8: u8, serialize_u16: u16,
        serialize_u32: u32, serialize_u64: u64, serialize_u128: u128, serialize_char: char
    );
    key_rejected!(serialize_bytes: &[u8]);

    fn serialize_f32(self, v: f32) -> Result<Text, ValueError> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Text, ValueError> {
        if v.is_finite() {
            Ok(Text::from(
                serde_json::Number::from_f64(v)
                    .ok_or_else(key_error)?
                    .to_string(),
            ))
        } else {
            Err(ValueError("float key must be finite".into()))
        }
    }
    fn serialize_str(self, v: &str) -> Result<Text, ValueError> {
        Ok(Text::from(v))
    }
    fn serialize_none(self) -> Result<Text, ValueError> {
        Err(key_error())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<Text, ValueError> {
        Err(key_error())
    }
    fn serialize_unit(self) -> Result<Text, ValueError> {
        Err(key_error())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Text, ValueError> {
        Err(key_error())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Text, ValueError> {
        Ok(Text::from_static(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Text, ValueError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Text, ValueError> {
        Err(key_error())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(key_error())
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(key_error())
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(key_error())
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(key_error())
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(key_error())
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(key_error())
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(key_error())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use serde::ser::SerializeMap;
    use serde::{Serialize, Serializer};

    use crate::Value;

    /// What the same data gives through `serde_json::to_value`.
    fn via_json<T: Serialize + ?Sized>(value: &T) -> Result<Value, String> {
        serde_json::to_value(value)
            .map(Value::from)
            .map_err(|e| e.to_string())
    }

    fn same<T: Serialize + ?Sized + std::fmt::Debug>(value: &T) {
        let direct = Value::from_serialize(value).map_err(|e| e.0);
        let json = via_json(value);
        match (&direct, &json) {
            (Ok(d), Ok(j)) => {
                assert_eq!(d, j, "{value:?}");
                // Equality ignores map order; the text keeps it.
                assert_eq!(d.to_string(), j.to_string(), "{value:?}");
            }
            (Err(_), Err(_)) => {}
            _ => panic!("{value:?}: direct {direct:?}, via JSON {json:?}"),
        }
    }

    #[derive(Debug, Serialize)]
    struct Unit;

    #[derive(Debug, Serialize)]
    struct Newtype(u8);

    #[derive(Debug, Serialize)]
    struct Tuple(i32, &'static str);

    #[derive(Debug, Serialize)]
    struct Hit {
        title: &'static str,
        score: f64,
        tags: Vec<&'static str>,
        extra: Option<Box<Hit>>,
    }

    #[derive(Debug, Serialize)]
    enum Shape {
        Empty,
        Circle(f64),
        Point(i32, i32),
        Rect { w: u32, h: u32 },
    }

    #[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
    enum Key {
        Alpha,
    }

    /// A map whose keys are floats, which serde's derives cannot express.
    #[derive(Debug)]
    struct FloatKeys(Vec<(f64, u8)>);

    impl Serialize for FloatKeys {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in &self.0 {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }

    #[test]
    fn matches_serde_json_for_every_kind_of_data() {
        same(&true);
        same(&-7i8);
        same(&u64::MAX);
        same(&(i64::MAX as u64));
        same(&i128::MIN);
        same(&(u64::MAX as i128));
        same(&u128::MAX);
        same(&1.5f32);
        same(&f64::NAN);
        same(&f64::NEG_INFINITY);
        same(&'é');
        same("text");
        same(&String::from("a string longer than twenty-four bytes"));
        same(&serde_bytes_like());
        same(&None::<u8>);
        same(&Some(3));
        same(&());
        same(&Unit);
        same(&Newtype(9));
        same(&Tuple(-1, "x"));
        same(&(1, "two", 3.0));
        same(&[
            Shape::Empty,
            Shape::Circle(1.0),
            Shape::Point(1, 2),
            Shape::Rect { w: 3, h: 4 },
        ]);
        same(&Hit {
            title: "Rust",
            score: 0.9,
            tags: vec!["a", "b"],
            extra: Some(Box::new(Hit {
                title: "inner",
                score: f64::INFINITY,
                tags: vec![],
                extra: None,
            })),
        });
        same(&HashMap::from([(1i32, "one")]));
        same(&BTreeMap::from([(true, 1), (false, 0)]));
        same(&BTreeMap::from([('c', 1)]));
        same(&BTreeMap::from([(Key::Alpha, 1)]));
        same(&BTreeMap::from([(u128::MAX, 1)]));
        same(&FloatKeys(vec![(1.0, 1), (0.25, 2)]));
        same(&FloatKeys(vec![(f64::NAN, 1)]));
        same(&BTreeMap::from([(vec![1u8], 1)]));
        same(&BTreeMap::from([(Some(1), 1)]));
        same(&serde_json::json!({"z": 1, "a": [null, {"k": "v"}], "f": 0.5}));
    }

    /// Bytes as `serialize_bytes` sends them.
    fn serde_bytes_like() -> impl Serialize + std::fmt::Debug {
        #[derive(Debug)]
        struct Bytes(&'static [u8]);
        impl Serialize for Bytes {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }
        Bytes(b"\x00\xffab")
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = Value::from_serialize(&BTreeMap::from([(vec![1u8], 1)])).unwrap_err();
        assert!(err.to_string().contains("key must be a string"), "{err}");
        let err = Value::from_serialize(&u128::MAX).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
    }
}
