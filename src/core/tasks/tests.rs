use super::*;

fn task(role: &str, title: &str, depends_on: &[TaskId]) -> NewTask {
    NewTask {
        role: role.to_string(),
        title: title.to_string(),
        description: String::new(),
        acceptance_criteria: Vec::new(),
        depends_on: depends_on.to_vec(),
        priority: Priority::Medium,
        requires_approval: false,
    }
}

fn status(graph: &TaskGraph, id: TaskId) -> TaskStatus {
    graph.get(id).expect("a task").status
}

/// api (backend) <- ui (frontend) <- e2e (test)
fn feature() -> (TaskGraph, [TaskId; 3]) {
    let mut graph = TaskGraph::default();
    let api = graph
        .delegate("architect", task("backend", "api", &[]))
        .unwrap();
    let ui = graph
        .delegate("architect", task("frontend", "ui", &[api]))
        .unwrap();
    let e2e = graph
        .delegate("architect", task("test", "e2e", &[api, ui]))
        .unwrap();
    (graph, [api, ui, e2e])
}

#[test]
fn tasks_become_ready_in_dependency_order_as_each_is_completed() {
    let (mut graph, [api, ui, e2e]) = feature();
    assert_eq!(
        [api, ui, e2e].map(|id| status(&graph, id)),
        [TaskStatus::Ready, TaskStatus::Inbox, TaskStatus::Inbox]
    );
    assert_eq!(graph.next_for("frontend", 0), None, "ui waits for api");
    graph.dispatch(api).unwrap();
    let done = graph.complete(api, "backend", "GET /users pages".into(), vec![]);
    assert_eq!(done, Ok(TaskStatus::Done));
    assert_eq!(graph.next_for("frontend", 0), Some(ui));
    assert_eq!(
        status(&graph, e2e),
        TaskStatus::Inbox,
        "e2e still waits for ui"
    );
    graph.dispatch(ui).unwrap();
    graph
        .complete(ui, "frontend", "pager".into(), vec![])
        .unwrap();
    assert_eq!(graph.next_for("test", 0), Some(e2e));
    assert_eq!(ui.to_string(), "t2");
    assert_eq!("t2".parse::<TaskId>(), Ok(ui));
}

#[test]
fn a_role_takes_its_highest_priority_ready_task_then_the_oldest() {
    let mut graph = TaskGraph::default();
    let low = graph
        .delegate(
            "a",
            NewTask {
                priority: Priority::Low,
                ..task("r", "low", &[])
            },
        )
        .unwrap();
    let first = graph.delegate("a", task("r", "first medium", &[])).unwrap();
    let second = graph
        .delegate("a", task("r", "second medium", &[]))
        .unwrap();
    let urgent = graph
        .delegate(
            "a",
            NewTask {
                priority: Priority::Urgent,
                ..task("r", "urgent", &[])
            },
        )
        .unwrap();
    assert_eq!(graph.next_for("r", 0), Some(urgent));
    graph.dispatch(urgent).unwrap();
    assert_eq!(graph.next_for("r", 0), Some(first));
    assert_eq!(graph.next_for("other", 0), None);
    graph.dispatch(first).unwrap();
    graph.dispatch(second).unwrap();
    assert_eq!(graph.next_for("r", 0), Some(low), "low goes last");
}

#[test]
fn an_unknown_dependency_and_a_cycle_are_refused_with_reasons() {
    let (mut graph, [api, _ui, e2e]) = feature();
    let missing = "t9".parse::<TaskId>().unwrap();
    let unknown = graph.delegate("architect", task("x", "y", &[missing]));
    assert_eq!(
        unknown.unwrap_err().to_string(),
        "task t4 depends on t9, which does not exist"
    );
    let cycle = graph.set_dependencies(api, vec![e2e]);
    let text = cycle.unwrap_err().to_string();
    assert!(
        text.starts_with("that would make a cycle: t1 -> t3"),
        "{text}"
    );
    assert_eq!(
        graph.get(api).unwrap().spec.depends_on,
        Vec::<TaskId>::new()
    );
    assert!(
        graph.set_dependencies(api, vec![api]).is_err(),
        "not on itself"
    );
}

#[test]
fn only_its_role_completes_a_task_and_update_cannot_skip_the_lifecycle() {
    let (mut graph, [api, ..]) = feature();
    graph.dispatch(api).unwrap();
    let stolen = graph.complete(api, "frontend", "mine".into(), vec![]);
    assert_eq!(
        stolen.unwrap_err().to_string(),
        "task t1 belongs to backend, not frontend"
    );
    let skip = graph.update(api, "backend", Some(TaskStatus::Done), None);
    assert!(
        matches!(skip, Err(TaskError::NotSettable { .. })),
        "{skip:?}"
    );
    graph
        .update(api, "backend", None, Some("half way".into()))
        .unwrap();
    assert_eq!(graph.get(api).unwrap().notes, ["half way"]);
    let done_twice = graph
        .complete(api, "backend", "s".into(), vec![])
        .and_then(|_| graph.complete(api, "backend", "again".into(), vec![]));
    assert!(matches!(done_twice, Err(TaskError::Transition { .. })));
}

#[test]
fn a_task_that_needs_approval_goes_to_review_then_back_on_rejection_and_done_on_approval() {
    let mut graph = TaskGraph::default();
    let gated = NewTask {
        requires_approval: true,
        ..task("backend", "migration", &[])
    };
    let id = graph.delegate("architect", gated).unwrap();
    let after = graph
        .delegate("architect", task("test", "check", &[id]))
        .unwrap();
    graph.dispatch(id).unwrap();
    let completed = graph.complete(id, "backend", "added column".into(), vec![]);
    assert_eq!(completed, Ok(TaskStatus::Review));
    assert_eq!(
        status(&graph, after),
        TaskStatus::Inbox,
        "review is not done"
    );
    graph.reject(id, "use a nullable column").unwrap();
    assert_eq!(status(&graph, id), TaskStatus::InFlight);
    assert_eq!(
        graph.get(id).unwrap().notes,
        ["rejected: use a nullable column"]
    );
    graph
        .complete(id, "backend", "nullable now".into(), vec![])
        .unwrap();
    graph.approve(id).unwrap();
    assert_eq!(status(&graph, id), TaskStatus::Done);
    assert_eq!(status(&graph, after), TaskStatus::Ready);
}

#[test]
fn a_task_given_back_is_retried_until_its_attempts_run_out_then_fails_and_blocks_its_dependents() {
    let (mut graph, [api, ui, e2e]) = feature();
    for attempt in 1..=3 {
        graph.dispatch(api).unwrap();
        assert_eq!(
            graph.give_back(api, 3, "crashed", 0),
            Ok(true),
            "attempt {attempt}"
        );
        assert_eq!(status(&graph, api), TaskStatus::Ready);
    }
    graph.dispatch(api).unwrap();
    assert_eq!(graph.give_back(api, 3, "crashed", 0), Ok(false));
    assert_eq!(
        [api, ui, e2e].map(|id| status(&graph, id)),
        [TaskStatus::Failed, TaskStatus::Blocked, TaskStatus::Blocked],
        "blocking travels down the graph"
    );
    // The architect re-plans: the failed task is retried, its dependents wait again.
    let foreign = graph.update(api, "frontend", Some(TaskStatus::Ready), None);
    assert!(foreign.is_err(), "only its role or creator");
    graph
        .update(api, "architect", Some(TaskStatus::Ready), None)
        .unwrap();
    assert_eq!(
        [api, ui, e2e].map(|id| status(&graph, id)),
        [TaskStatus::Ready, TaskStatus::Inbox, TaskStatus::Inbox]
    );
    assert_eq!(graph.get(api).unwrap().attempts, 0);
}

#[test]
fn every_status_maps_to_an_acp_plan_status_and_done_is_final() {
    for from in TaskStatus::ALL {
        assert!(["pending", "in_progress", "completed"].contains(&from.plan_status()));
        assert_eq!(TaskStatus::parse(from.as_str()), Some(from));
        assert!(!TaskStatus::Done.may_become(from), "done -> {from}");
    }
    assert_eq!(Priority::Urgent.plan_priority(), "high");
    assert_eq!(Priority::parse("urgent"), Some(Priority::Urgent));
}

#[test]
fn blocking_travels_down_a_long_dense_chain_and_back_and_a_cycle_across_it_is_refused() {
    let mut graph = TaskGraph::default();
    let mut ids: Vec<TaskId> = Vec::new();
    for n in 0..1000 {
        let deps: Vec<TaskId> = ids.iter().rev().take(32).copied().collect();
        let id = graph
            .delegate("architect", task("backend", &format!("step {n}"), &deps))
            .unwrap();
        ids.push(id);
    }
    graph.dispatch(ids[0]).unwrap();
    graph.take_changes();
    graph
        .update(ids[0], "backend", Some(TaskStatus::Blocked), None)
        .unwrap();
    assert!(
        ids[1..]
            .iter()
            .all(|id| status(&graph, *id) == TaskStatus::Blocked)
    );
    let changes = graph.take_changes();
    assert_eq!(changes.transitions.len(), 1000, "one move each, no churn");
    graph
        .update(ids[0], "architect", Some(TaskStatus::Ready), None)
        .unwrap();
    assert_eq!(status(&graph, ids[1]), TaskStatus::Inbox);
    assert_eq!(status(&graph, ids[999]), TaskStatus::Inbox);
    let cycle = graph.set_dependencies(ids[0], vec![ids[999]]);
    assert!(matches!(cycle, Err(TaskError::Cycle(_))), "{cycle:?}");
}

#[test]
fn a_failed_task_stays_failed_for_its_role_and_only_its_creator_or_the_user_reopens_it() {
    let (mut graph, [api, ..]) = feature();
    graph.dispatch(api).unwrap();
    graph
        .update(api, "backend", Some(TaskStatus::Failed), None)
        .unwrap();
    let again = graph.update(api, "backend", Some(TaskStatus::Blocked), None);
    assert!(
        matches!(again, Err(TaskError::Transition { .. })),
        "{again:?}"
    );
    graph.reopen(api).unwrap();
    assert_eq!(status(&graph, api), TaskStatus::Ready);
    assert!(
        graph.reopen(api).is_err(),
        "only blocked or failed tasks reopen"
    );
}

#[test]
fn notes_are_capped_in_number_and_length() {
    let (mut graph, [api, ..]) = feature();
    for n in 0..30 {
        let note = format!("{n} {}", "x".repeat(5000));
        graph.update(api, "backend", None, Some(note)).unwrap();
    }
    let notes = &graph.get(api).unwrap().notes;
    assert_eq!(notes.len(), 20);
    assert!(notes[0].starts_with("10 "), "the oldest went first");
    assert!(notes.iter().all(|n| n.chars().count() <= 2001));
}
