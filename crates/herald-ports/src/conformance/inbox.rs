//! Conformance suite for the inbox port.
//!
//! Call [`run_all`] with a fresh (or shared) inbox: every check uses new app ids, so checks
//! never see each other's items. Each broken promise panics with a message naming it. The
//! promises are listed in [`crate::inbox`].

use crate::error::StoreError;
use crate::inbox::{Inbox, InboxFilter, InboxItem, InboxState};
use herald_domain::{AppId, DeliveryId, MessageId};
use std::collections::{BTreeMap, HashSet};

/// Runs every inbox check.
pub async fn run_all(inbox: &dyn Inbox) {
    stored_items_read_back(inbox).await;
    storing_twice_is_a_no_op(inbox).await;
    states_and_unread_count(inbox).await;
    mark_all_read(inbox).await;
    filters_select_states(inbox).await;
    pages_are_complete_and_disjoint(inbox).await;
    deleted_items_are_gone_and_never_return(inbox).await;
    items_are_scoped_by_app_and_user(inbox).await;
    bad_cursors_are_invalid_input(inbox).await;
}

/// An unread item for `user` created at `created_at`, with a fresh delivery id.
pub fn item(app: &AppId, user: &str, created_at: i64) -> InboxItem {
    InboxItem {
        id: DeliveryId::generate(),
        app_id: app.clone(),
        user_id: user.into(),
        message_id: MessageId::generate(),
        title: Some(format!("title {created_at}")),
        body: format!("body {created_at} 你好"),
        fields: BTreeMap::from([("link".to_owned(), format!("/orders/{created_at}"))]),
        state: InboxState::Unread,
        created_at,
        read_at: None,
    }
}

async fn store_all(inbox: &dyn Inbox, items: &[InboxItem]) {
    let fresh = inbox.store(items.to_vec()).await.expect("store succeeds");
    assert_eq!(fresh, vec![true; items.len()], "new ids are stored as new");
}

async fn ids(inbox: &dyn Inbox, app: &AppId, user: &str, filter: InboxFilter) -> Vec<DeliveryId> {
    let page = inbox.list(app, user, filter, None, 1000).await.unwrap();
    assert_eq!(page.next_cursor, None, "a short listing has no next page");
    page.items.into_iter().map(|i| i.id).collect()
}

async fn unread(inbox: &dyn Inbox, app: &AppId, user: &str) -> u64 {
    inbox.unread_count(app, user).await.unwrap()
}

/// Items come back whole, newest stored first.
pub async fn stored_items_read_back(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let first = item(&app, "u-1", 1_000);
    let second = item(&app, "u-1", 2_000);
    store_all(inbox, std::slice::from_ref(&first)).await;
    store_all(inbox, std::slice::from_ref(&second)).await;
    let page = inbox
        .list(&app, "u-1", InboxFilter::All, None, 10)
        .await
        .unwrap();
    assert_eq!(
        page.items,
        vec![second.clone(), first.clone()],
        "items read back whole, newest stored first"
    );
    assert_eq!(
        inbox.get(&app, "u-1", &first.id).await.unwrap(),
        Some(first),
        "get returns the stored item"
    );
    assert_eq!(unread(inbox, &app, "u-1").await, 2, "new items are unread");
}

/// A second store of the same id changes nothing, even with other content or state.
pub async fn storing_twice_is_a_no_op(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let original = item(&app, "u-1", 1_000);
    store_all(inbox, std::slice::from_ref(&original)).await;
    let mut again = original.clone();
    again.body = "changed".into();
    let other = item(&app, "u-1", 2_000);
    let fresh = inbox.store(vec![again, other.clone()]).await.unwrap();
    assert_eq!(fresh, vec![false, true], "only the new id is reported new");
    assert_eq!(
        inbox.get(&app, "u-1", &original.id).await.unwrap(),
        Some(original.clone()),
        "a repeated store keeps the first content"
    );
    inbox
        .set_state(&app, "u-1", &original.id, InboxState::Read, 5_000)
        .await
        .unwrap();
    assert_eq!(
        inbox.store(vec![original.clone()]).await.unwrap(),
        vec![false]
    );
    let stored = inbox.get(&app, "u-1", &original.id).await.unwrap().unwrap();
    assert_eq!(
        stored.state,
        InboxState::Read,
        "a redelivery does not make a read item unread again"
    );
    assert_eq!(unread(inbox, &app, "u-1").await, 1);
}

/// Marking moves items between states, keeps `read_at` right and the unread count exact.
pub async fn states_and_unread_count(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let a = item(&app, "u-1", 1_000);
    let b = item(&app, "u-1", 2_000);
    store_all(inbox, &[a.clone(), b.clone()]).await;

    let read = inbox
        .set_state(&app, "u-1", &a.id, InboxState::Read, 10_000)
        .await
        .unwrap()
        .expect("marking an existing item returns it");
    assert_eq!((read.state, read.read_at), (InboxState::Read, Some(10_000)));
    assert_eq!(unread(inbox, &app, "u-1").await, 1);

    let again = inbox
        .set_state(&app, "u-1", &a.id, InboxState::Read, 20_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.read_at, Some(10_000), "read_at is the first read");

    let archived = inbox
        .set_state(&app, "u-1", &a.id, InboxState::Archived, 30_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (archived.state, archived.read_at),
        (InboxState::Archived, Some(10_000)),
        "archiving keeps read_at"
    );

    let archived_unread = inbox
        .set_state(&app, "u-1", &b.id, InboxState::Archived, 40_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        archived_unread.read_at,
        Some(40_000),
        "archiving an unread item reads it"
    );
    assert_eq!(unread(inbox, &app, "u-1").await, 0);

    let unread_again = inbox
        .set_state(&app, "u-1", &a.id, InboxState::Unread, 50_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (unread_again.state, unread_again.read_at),
        (InboxState::Unread, None),
        "marking unread clears read_at"
    );
    assert_eq!(unread(inbox, &app, "u-1").await, 1);
    assert_eq!(
        inbox
            .set_state(&app, "u-1", &DeliveryId::generate(), InboxState::Read, 1)
            .await
            .unwrap(),
        None,
        "marking an unknown id finds nothing"
    );
}

/// "Read all" reads every unread item of that user only, and reports how many.
pub async fn mark_all_read(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let mine: Vec<_> = (0..3).map(|i| item(&app, "u-1", 1_000 + i)).collect();
    let theirs = item(&app, "u-2", 1_000);
    store_all(inbox, &mine).await;
    store_all(inbox, std::slice::from_ref(&theirs)).await;
    inbox
        .set_state(&app, "u-1", &mine[0].id, InboxState::Read, 5_000)
        .await
        .unwrap();
    assert_eq!(
        inbox.mark_all_read(&app, "u-1", 9_000).await.unwrap(),
        2,
        "read-all counts the items it changed"
    );
    assert_eq!(unread(inbox, &app, "u-1").await, 0);
    assert_eq!(unread(inbox, &app, "u-2").await, 1, "other users untouched");
    let first = inbox.get(&app, "u-1", &mine[0].id).await.unwrap().unwrap();
    assert_eq!(
        first.read_at,
        Some(5_000),
        "already read items keep read_at"
    );
    let last = inbox.get(&app, "u-1", &mine[2].id).await.unwrap().unwrap();
    assert_eq!((last.state, last.read_at), (InboxState::Read, Some(9_000)));
    assert_eq!(inbox.mark_all_read(&app, "u-1", 10_000).await.unwrap(), 0);
}

/// Each filter returns exactly the items in its states, newest first.
pub async fn filters_select_states(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let items: Vec<_> = (0..3).map(|i| item(&app, "u-1", 1_000 + i)).collect();
    store_all(inbox, &items).await;
    let (unread_item, read_item, archived_item) = (&items[0], &items[1], &items[2]);
    for (it, state) in [
        (read_item, InboxState::Read),
        (archived_item, InboxState::Archived),
    ] {
        inbox
            .set_state(&app, "u-1", &it.id, state, 5_000)
            .await
            .unwrap();
    }
    let cases = [
        (InboxFilter::Only(InboxState::Unread), vec![&unread_item.id]),
        (InboxFilter::Only(InboxState::Read), vec![&read_item.id]),
        (
            InboxFilter::Only(InboxState::Archived),
            vec![&archived_item.id],
        ),
        (InboxFilter::Active, vec![&read_item.id, &unread_item.id]),
        (
            InboxFilter::All,
            vec![&archived_item.id, &read_item.id, &unread_item.id],
        ),
    ];
    for (filter, expected) in cases {
        let got = ids(inbox, &app, "u-1", filter).await;
        let expected: Vec<DeliveryId> = expected.into_iter().cloned().collect();
        assert_eq!(got, expected, "filter {filter:?}");
    }
}

/// Walking pages returns every matching item once, newest first, and ends.
pub async fn pages_are_complete_and_disjoint(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let items: Vec<_> = (0..23).map(|i| item(&app, "u-1", 1_000 + i)).collect();
    for chunk in items.chunks(5) {
        store_all(inbox, chunk).await;
    }
    for (i, it) in items.iter().enumerate() {
        if i % 3 == 0 {
            inbox
                .set_state(&app, "u-1", &it.id, InboxState::Read, 5_000)
                .await
                .unwrap();
        }
    }
    for filter in [InboxFilter::All, InboxFilter::Only(InboxState::Unread)] {
        let mut walked = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = inbox
                .list(&app, "u-1", filter, cursor.as_deref(), 4)
                .await
                .unwrap();
            assert!(page.items.len() <= 4, "a page holds at most `limit` items");
            walked.extend(page.items.into_iter().map(|i| i.id));
            pages += 1;
            assert!(pages < 20, "paging terminates");
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let expected: Vec<DeliveryId> = items
            .iter()
            .enumerate()
            .rev()
            .filter(|(i, _)| filter == InboxFilter::All || i % 3 != 0)
            .map(|(_, it)| it.id.clone())
            .collect();
        assert_eq!(walked, expected, "pages of {filter:?} walk every item once");
        let distinct: HashSet<_> = walked.iter().collect();
        assert_eq!(distinct.len(), walked.len(), "no item appears twice");
    }
}

/// A deleted item is gone everywhere, and storing its id again does not bring it back.
pub async fn deleted_items_are_gone_and_never_return(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let kept = item(&app, "u-1", 1_000);
    let deleted = item(&app, "u-1", 2_000);
    store_all(inbox, &[kept.clone(), deleted.clone()]).await;
    assert!(inbox.delete(&app, "u-1", &deleted.id).await.unwrap());
    assert!(
        !inbox.delete(&app, "u-1", &deleted.id).await.unwrap(),
        "deleting twice reports false"
    );
    assert_eq!(inbox.get(&app, "u-1", &deleted.id).await.unwrap(), None);
    assert_eq!(
        inbox
            .set_state(&app, "u-1", &deleted.id, InboxState::Read, 3_000)
            .await
            .unwrap(),
        None,
        "a deleted item cannot be marked"
    );
    assert_eq!(ids(inbox, &app, "u-1", InboxFilter::All).await, [kept.id]);
    assert_eq!(
        unread(inbox, &app, "u-1").await,
        1,
        "deleted items do not count"
    );
    assert_eq!(
        inbox.store(vec![deleted.clone()]).await.unwrap(),
        vec![false],
        "a redelivered deleted item is not stored again"
    );
    assert_eq!(inbox.get(&app, "u-1", &deleted.id).await.unwrap(), None);
}

/// Nothing of one user (or app) is reachable by another, even knowing the ids.
pub async fn items_are_scoped_by_app_and_user(inbox: &dyn Inbox) {
    let app = AppId::generate();
    let other_app = AppId::generate();
    let mine = item(&app, "u-1", 1_000);
    store_all(inbox, std::slice::from_ref(&mine)).await;
    for (a, user) in [(&app, "u-2"), (&other_app, "u-1")] {
        assert_eq!(inbox.get(a, user, &mine.id).await.unwrap(), None);
        assert_eq!(
            inbox
                .set_state(a, user, &mine.id, InboxState::Read, 2_000)
                .await
                .unwrap(),
            None,
            "{user} in {a} cannot mark another's item"
        );
        assert!(!inbox.delete(a, user, &mine.id).await.unwrap());
        assert_eq!(inbox.mark_all_read(a, user, 2_000).await.unwrap(), 0);
        assert_eq!(ids(inbox, a, user, InboxFilter::All).await, vec![]);
        assert_eq!(unread(inbox, a, user).await, 0);
    }
    let same_id_other_app = InboxItem {
        app_id: other_app.clone(),
        ..mine.clone()
    };
    assert_eq!(
        inbox.store(vec![same_id_other_app]).await.unwrap(),
        vec![true],
        "ids are deduplicated per app"
    );
    assert_eq!(
        inbox.get(&app, "u-1", &mine.id).await.unwrap(),
        Some(mine),
        "the first app's item is untouched"
    );
}

/// A cursor no page handed out is `InvalidInput`.
pub async fn bad_cursors_are_invalid_input(inbox: &dyn Inbox) {
    let app = AppId::generate();
    for cursor in ["", "nonsense", "ffff"] {
        let result = inbox
            .list(&app, "u-1", InboxFilter::All, Some(cursor), 10)
            .await;
        assert!(
            matches!(result, Err(StoreError::InvalidInput(_))),
            "cursor {cursor:?} is rejected as invalid input, got {result:?}"
        );
    }
}
