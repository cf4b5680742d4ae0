//! `chitin secret rotate-key` on both backends: everything readable under the new key, the old key refused, and an
//! interrupted rotation finished by running it again.

use chitin::crypto::MasterKey;
use chitin::secrets::{KeySource, PENDING_KEY_FILE, SecretStore, forget_pending, rotate_master_key};
use chitin::store::{InboundMessage, InboundOutcome, Store, StoreError};
use secrecy::{ExposeSecret, SecretString};

use crate::on_both_backends;
use crate::support::store_backends::TestStore;

const PHRASE: &str = "rotation keeps this sentence 41c9";
const SECRET: &str = "sk-rotated-value-0d1e2f";

/// Writes a secret and a message, closes the store, and returns the conversation to read back.
async fn fill(t: &TestStore) -> chitin::store::ConversationId {
    SecretStore::new(t.store.clone(), &t.master_key).set("api", &SecretString::from(SECRET)).await.unwrap();
    let message = InboundMessage {
        channel: "webhook",
        external_conversation_id: "rotation",
        platform_message_id: "r:1",
        sender: Some("owner"),
        body: PHRASE,
    };
    let InboundOutcome::Inserted { conversation_id, .. } = t.store.inbound().record_inbound(&message).await.unwrap()
    else {
        panic!("not inserted")
    };
    t.store.close().await;
    conversation_id
}

async fn assert_readable(t: &TestStore, key: &MasterKey, conversation: chitin::store::ConversationId) {
    let store: Store = t.reopen(key).await.unwrap();
    let secret = SecretStore::new(store.clone(), key).get("api").await.unwrap();
    assert_eq!(secret.expose_secret(), SECRET);
    let history = store.conversations().history(conversation, 10).await.unwrap();
    assert_eq!(history.iter().map(|message| message.body.as_str()).collect::<Vec<_>>(), vec![PHRASE]);
    store.close().await;
}

async fn rotation_round_trip(t: &TestStore) {
    let conversation = fill(t).await;
    let old_hex = t.master_key.to_hex();
    let rotation = rotate_master_key(&t.config, t.data_dir.path(), Some(old_hex.as_str())).await.unwrap();
    assert_eq!(rotation.source, KeySource::Environment);
    assert!(!rotation.resumed);
    assert_eq!(rotation.report.secrets, 1);
    assert_ne!(rotation.new_key.key_id(), t.master_key.key_id());
    match t.postgres_url {
        Some(_) => assert_eq!(rotation.report.sealed_columns, 1, "the message body was re-sealed"),
        None => assert!(rotation.report.database_rekeyed, "the SQLCipher file was re-keyed"),
    }
    // The pending copy stays until the user has seen the key.
    assert!(t.data_dir.path().join(PENDING_KEY_FILE).exists());
    forget_pending(t.data_dir.path());

    assert_readable(t, &rotation.new_key, conversation).await;
    let error = t.reopen(&t.master_key).await.unwrap_err();
    assert!(matches!(error, StoreError::WrongMasterKey { .. }), "{error}");

    // Rotating again from the new key works the same way.
    let new_hex = rotation.new_key.to_hex();
    let again = rotate_master_key(&t.config, t.data_dir.path(), Some(new_hex.as_str())).await.unwrap();
    assert_eq!(again.report.secrets, 1);
    forget_pending(t.data_dir.path());
    assert_readable(t, &again.new_key, conversation).await;
    // The store is closed; drop_schema closes it again, which is harmless.
}

/// A crash after the database moved to the new key but before the key file was replaced: the next run finds the
/// pending key, opens the database with it and finishes.
async fn interrupted_rotation_is_finished_by_running_again(t: &TestStore) {
    let conversation = fill(t).await;
    let old_hex = t.master_key.to_hex();
    let first = rotate_master_key(&t.config, t.data_dir.path(), Some(old_hex.as_str())).await.unwrap();
    // As if the process died before the user saw the key: the pending file is still there.
    let resumed = rotate_master_key(&t.config, t.data_dir.path(), Some(old_hex.as_str())).await.unwrap();
    assert!(resumed.resumed);
    assert_eq!(resumed.new_key.key_id(), first.new_key.key_id());
    assert_eq!(resumed.report.secrets, 0, "nothing left to re-seal");
    assert!(!resumed.report.database_rekeyed);
    forget_pending(t.data_dir.path());
    assert_readable(t, &first.new_key, conversation).await;
}

on_both_backends!(rotation_round_trip, interrupted_rotation_is_finished_by_running_again);
