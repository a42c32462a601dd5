"""How the figures are decided, in words: one text for every report format.

The code that applies these rules lives in ``derive`` (outcome of an attempt) and
``compliance`` (status of a server); keep this text in step with it.
"""

OUTCOME_RULE = (
    "Each patch attempt is judged by its result code: Succeeded is succeeded; Succeeded with "
    "errors, or success with a reboot still required, is a warning; Failed, Aborted and Not "
    "started are failed; In progress is in progress. An attempt without a result code is "
    "judged by its status: completed is succeeded (a warning if a reboot is required), failed "
    "is failed, pending or running is in progress. An attempt with neither a result code nor a "
    "known status cannot be shown to have failed or succeeded: it counts as a warning and its "
    "execution is listed under problems so that someone checks it."
)

COMPLIANCE_RULES = [
    "No data: no execution of the server could be fetched, or none started in the period.",
    "In progress: the server's latest execution is pending or running.",
    "Non-compliant: for some patch the latest attempt on the server ended Failed, Aborted or "
    "Not started, or the latest execution failed; or, with a baseline, a required patch is "
    "overdue. A patch is known by its primary KB number; a Linux package by its name and "
    "architecture, whatever the version (a newer release that installs replaces an older one "
    "that failed); anything else by its title.",
    "Reboot pending: otherwise, when a latest attempt succeeded but asked for a restart (a "
    "success-class reboot code such as 0x00240005 WU_S_REBOOT_REQUIRED) and no execution of "
    "the server completed after it. It counts as compliant unless the configuration says "
    'reboot_pending = "non-compliant", and is always shown apart.',
    "Compliant: otherwise. Succeeded-with-errors attempts count as compliant and are flagged "
    "as warnings. Compliant (excepted): every reason against the server is covered by an "
    "exception in force; counted as compliant, shown apart.",
    "A completed execution with no patches means the server was up to date when it ran: it "
    "clears the failures of the executions that started before it.",
    "An execution that gives only a patch count is judged by its status; its reason says "
    '"patch details not returned" and its patches are counted as attempts of unknown '
    "outcome.",
    "Fleet compliance % = servers counted as compliant (Compliant, Compliant (excepted) and, "
    "unless configured otherwise, Reboot pending) / all servers in the inventory (No data "
    "counts against it).",
    "With a period, the figures cover executions that started in that month (UTC); an "
    "execution listed in the inventory that started outside it is listed apart, under "
    "Executions outside the period.",
]

STANDARD_RULES = [
    "Each required patch of the baseline applies to the servers whose inventory attributes "
    "match every applies_to term (attribute=glob, any case); without terms, KB numbers apply "
    "to Windows servers and packages to Linux servers (by the os attribute, else by the "
    "patches the server attempted). Servers without data are not judged.",
    "Installed: an attempt succeeded, in this period, in a listed execution outside it, in the "
    "history's patch ledger, or in the server's earlier executions, looked up when nothing "
    "else shows it. The latest attempt wins: a success followed by a failure is Failed. "
    "Alternatives (KB1|KB2) are satisfied by any one of them; a package minimum "
    "(name.arch>=version-release) by a version at least that high, in RPM version order. No "
    "supersedence is guessed.",
    "Due: missing, and the deadline (release date plus the SLA days of its severity) is after "
    "the reference date. Overdue: missing, and the deadline is not after it; an overdue patch "
    "makes the server non-compliant, a due one is listed but does not. A patch released after "
    "the reference date is not required yet.",
    "Exceptions are in force until the end of their expiry day (UTC), judged at the reference "
    "date; one in force turns the failure, missing or overdue patch it names into Excepted. "
    "Expired exceptions do not apply; stale ones cover nothing. Both are listed.",
    "The reference date is the end of the period, or the run's moment without a period, so "
    "that a later re-render gives the same answer.",
]
