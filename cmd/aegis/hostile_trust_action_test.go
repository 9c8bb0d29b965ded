package main

// trustActionCases are hostile-corpus cases of issue 13 ("the change under
// review cannot choose its own base, policy, rules or verdict").
func trustActionCases() []hostileCase {
	return nil
}
