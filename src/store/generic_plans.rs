//! Test support: the generic plans PostgreSQL makes for prepared statements on a fresh, empty schema.
//!
//! A prepared statement's generic plan is made once and kept until the tables are analysed again; one
//! made while they were small can scan a whole table on every later call. Tests of the statements that
//! must reach their rows by key use this to look at those plans.

use sqlx::Connection;

async fn run(connection: &mut sqlx::PgConnection, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(connection).await.unwrap();
}

/// For each `(sql, argument types, argument values)` (both empty for a statement without parameters), the
/// text of `EXPLAIN EXECUTE` of the statement prepared with `plan_cache_mode = force_generic_plan` on a
/// freshly migrated, empty schema; `None` (after a skip line) when `DATABASE_URL` is unset.
pub(crate) async fn generic_plans(label: &str, statements: &[(&str, &str, &str)]) -> Option<Vec<String>> {
    let Some(base_url) = std::env::var("DATABASE_URL").ok().filter(|url| !url.is_empty()) else {
        eprintln!("SKIP: DATABASE_URL is unset");
        return None;
    };
    let schema = format!("{label}_plans_{}", std::process::id());
    let mut connection = sqlx::PgConnection::connect(&base_url).await.unwrap();
    run(&mut connection, format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).await;
    run(&mut connection, format!("SET search_path = {schema}, public")).await;
    sqlx::migrate!("./migrations/postgres").run(&mut connection).await.unwrap();
    run(&mut connection, "SET plan_cache_mode = force_generic_plan".to_owned()).await;
    let mut plans = Vec::with_capacity(statements.len());
    for (index, (sql, arguments, values)) in statements.iter().enumerate() {
        // A statement without parameters is prepared and executed without the parentheses.
        let (arguments, values) = if arguments.is_empty() {
            (String::new(), String::new())
        } else {
            (format!("({arguments})"), format!("({values})"))
        };
        run(&mut connection, format!("PREPARE statement_{index}{arguments} AS {sql}")).await;
        let plan: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN EXECUTE statement_{index}{values}")))
                .fetch_all(&mut connection)
                .await
                .unwrap();
        plans.push(plan.join("\n"));
    }
    run(&mut connection, format!("DROP SCHEMA {schema} CASCADE")).await;
    connection.close().await.unwrap();
    Some(plans)
}
