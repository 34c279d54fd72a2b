use super::*;

#[test]
fn the_word_search_finds_the_first_special_byte_anywhere() {
    for special in [b'"', b'\\', 0x00, 0x1f, b'\n'] {
        for len in 0..80 {
            for pos in 0..len {
                let mut bytes = vec![b'a'; len];
                bytes[pos] = special;
                if pos + 1 < len {
                    bytes[pos + 1] = b'"';
                }
                assert_eq!(find_quote_backslash_or_control(&bytes, 0), pos);
            }
            let plain: Vec<u8> = "é€ ~\u{7f}".bytes().cycle().take(len).collect();
            assert_eq!(find_quote_backslash_or_control(&plain, 0), len);
        }
    }
}

#[test]
fn an_update_line_is_read_with_its_params_indexed() {
    let line = r#"{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s","update":{"sessionUpdate":"x","n":[1,{"a":2}]}}}"#;
    let mut spans = vec![FieldSpan::default()];
    let envelope = envelope(line, &mut spans).unwrap();
    assert_eq!(&line[envelope.method.unwrap()], "session/update");
    let params = envelope.params.unwrap();
    assert_eq!(envelope.params_index, Some(1..5));
    let mut later = Vec::new();
    index_object(&line[params], &mut later).unwrap();
    assert_eq!(spans[1..], later[..]);
}

#[test]
fn what_the_scan_leaves_to_the_thorough_parse() {
    for line in [
        r#"{"jsonrpc":"2.0","method":"a","method":"b"}"#,
        r#"{"jsonrpc":"2.0","m\u0065thod":"a"}"#,
        r#"{"jsonrpc":"2.0","method":"a\/b"}"#,
        r#"{"jsonrpc":"2.0","id":-0,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":1.0,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":12345678901234567890,"method":"a"}"#,
        r#"{"jsonrpc":"2.0","id":"\u0041","method":"a"}"#,
        r#"{"jsonrpc":"2.00","method":"a"}"#,
        r#"{"jsonrpc":"2.0","method":"a","params":[01]}"#,
        r#"{"jsonrpc":"2.0","method":"a","params":["\x"]}"#,
        r#"{"jsonrpc":"2.0","method":"a","params":[1,]}"#,
        r#"{"jsonrpc":"2.0","method":"a"} x"#,
        r#"{"method":"a"}"#,
        "[1]",
    ] {
        assert_eq!(
            envelope(line, &mut Vec::new()).map(drop),
            Err(Unusual),
            "{line}"
        );
    }
}

#[test]
fn deep_values_are_skipped_without_recursion() {
    let deep = format!("{}1{}", "[{\"a\":".repeat(10_000), "}]".repeat(10_000));
    let line = format!(r#"{{"jsonrpc":"2.0","method":"a","params":{{"x":{deep}}}}}"#);
    let envelope = envelope(&line, &mut Vec::new()).unwrap();
    assert_eq!(envelope.params_index, Some(0..1));
}
